"""structlog setup, with a processor that keeps personal data out of every log line."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Keys whose values are personal data wherever they appear.
PERSONAL_KEYS = frozenset(
    {
        "id_number",
        "entity_key",
        "holder_id",
        "name",
        "phone",
        "legal_representative",
        "household_address",
        "residence_address",
        "birth_date",
        "data",
        "payload",
        "value",
    }
)
# 18-character citizen identity numbers and 11-digit mobile numbers inside free text.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def scrub_text(text: str) -> str:
    """Replace identity and phone numbers embedded in free text."""
    return _MOBILE.sub("[phone]", _ID_NUMBER.sub("[id-number]", text))


def _redacted(value: Any, depth: int = 0) -> Any:
    """Scrub strings and personal keys at any depth of dicts, lists and tuples."""
    if isinstance(value, str):
        return scrub_text(value)
    if depth > 8:
        return value
    if isinstance(value, dict):
        return {
            k: "[redacted]" if k in PERSONAL_KEYS else _redacted(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_redacted(v, depth + 1) for v in value)
    return value


def redact_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key in PERSONAL_KEYS and key != "event":
            event_dict[key] = "[redacted]"
        else:
            event_dict[key] = _redacted(event_dict[key])
    return event_dict


class _StructlogHandler(logging.Handler):
    """Hands stdlib records (librdkafka's, via the clients' `logger` setting) to structlog.

    librdkafka calls `logger.log(level, "%s [%s] %s", facility, client, text)`. `ceiling`
    demotes them, for clients whose failures the caller reports itself (the preflight).
    """

    def __init__(self, ceiling: int) -> None:
        super().__init__(logging.DEBUG)
        self.ceiling = ceiling

    def emit(self, record: logging.LogRecord) -> None:
        try:
            args = record.args if isinstance(record.args, tuple) else ()
            fields: dict[str, Any] = (
                {"facility": args[0], "client": args[1], "detail": str(args[2])}
                if len(args) == 3
                else {"detail": record.getMessage()}
            )
            level = min(record.levelno, self.ceiling)
            # An SDK user who configured no logging: stderr, never the program's stdout.
            logger = (
                structlog.get_logger(record.name)
                if structlog.is_configured()
                else structlog.wrap_logger(_stderr_logger(), logger_name=record.name)
            )
            logger.log(level, "librdkafka", **fields)
        except Exception:  # logging must never break the client thread that logs
            self.handleError(record)


def kafka_logger(*, ceiling: int = logging.CRITICAL) -> logging.Logger:
    """The `logger` for librdkafka clients: its lines go through structlog, never raw.

    One logger per ceiling; records stay out of the stdlib root handlers.
    """
    name = "govbus.kafka" if ceiling >= logging.CRITICAL else f"govbus.kafka.{ceiling}"
    logger = logging.getLogger(name)
    if not logger.handlers:
        logger.addHandler(_StructlogHandler(ceiling))
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
    return logger


def _stderr_logger(*_args: Any) -> structlog.PrintLogger:
    return structlog.PrintLogger(file=sys.stderr)


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_personal_data,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=_stderr_logger,
        # Not cached: a cached logger keeps the stream it first saw, which breaks after
        # a test runner swaps sys.stderr.
        cache_logger_on_first_use=False,
    )
