import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog

from govbus import ErrorCode, GovbusError, cloudevent_headers, parse_cloudevent_headers
from govbus._envelope import check_cloudevent_headers
from govbus._logging import configure_logging, redact_personal_data, scrub_text


def test_headers_round_trip_and_traceparent_passes_through() -> None:
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    headers = cloudevent_headers(
        event_id="e1",
        department="PSB",
        entity="person",
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        subject="abc",
        traceparent=tp,
    )
    attrs = parse_cloudevent_headers(headers)
    assert (attrs.id, attrs.department, attrs.traceparent) == ("e1", "PSB", tp)
    assert attrs.type == "cn.gov.govbus.person.changed"


def test_missing_headers_are_all_named() -> None:
    with pytest.raises(GovbusError) as info:
        parse_cloudevent_headers([("ce_id", b"x")])
    assert info.value.code is ErrorCode.MISSING_HEADERS
    assert "ce_source" in info.value.message and "content-type" in info.value.message


def _good_headers() -> list[tuple[str, bytes | None]]:
    return list(
        cloudevent_headers(
            event_id="e1",
            department="PSB",
            entity="person",
            occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
            subject="abc",
        )
    )


@pytest.mark.parametrize(
    "headers",
    [
        _good_headers(),
        [],
        None,
        [h for h in _good_headers() if h[0] != "ce_time"],
        [(n, b"" if n == "ce_id" else v) for n, v in _good_headers()],
        [(n, None if n == "ce_source" else v) for n, v in _good_headers()],
        [(n, b"0.3" if n == "ce_specversion" else v) for n, v in _good_headers()],
        [(n, b"1.0\xff" if n == "ce_specversion" else v) for n, v in _good_headers()],
        [("ce_id", None), *_good_headers()],  # a null value then the real one: passes
        [("ce_id", b""), *_good_headers()],  # the first non-null value counts: missing
        [*_good_headers(), ("ce_type", b"")],
        [("traceparent", b"x"), *_good_headers()],
    ],
)
def test_the_quick_header_check_agrees_with_parsing(
    headers: list[tuple[str, bytes | None]] | None,
) -> None:
    def verdict(check: Callable[[Any], object]) -> tuple[str, str] | None:
        try:
            check(headers)
        except GovbusError as error:
            return (error.code, error.message)
        return None

    assert verdict(check_cloudevent_headers) == verdict(parse_cloudevent_headers)


def test_identity_and_phone_numbers_are_scrubbed_from_text() -> None:
    text = scrub_text("bad id 11010519491231002X and phone 13812345678 in row 7")
    assert "11010519491231002X" not in text and "13812345678" not in text
    assert "row 7" in text


def test_personal_keys_are_redacted() -> None:
    out = redact_personal_data(None, "info", {"event": "x", "name": "张三", "count": 3})
    assert out == {"event": "x", "name": "[redacted]", "count": 3}


def test_nested_values_are_redacted_too() -> None:
    out = redact_personal_data(
        None,
        "info",
        {"event": "x", "rows": [{"name": "张三", "line": 3}, "call 13812345678"], "n": (1,)},
    )
    assert out["rows"] == [{"name": "[redacted]", "line": 3}, "call [phone]"]
    assert out["n"] == (1,)


def test_configured_logger_never_prints_an_identity_number(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    structlog.get_logger().info("rejected", reason="id 11010519491231002X invalid", phone="1")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert "11010519491231002X" not in json.dumps(line)
    assert line["phone"] == "[redacted]"
    structlog.reset_defaults()
