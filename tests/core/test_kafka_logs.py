"""librdkafka's own log lines go through structlog (the clients' `logger`), never raw."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
import structlog

from govbus import kafka_logger

CLIENT = """
import time
from confluent_kafka import Producer
from govbus import Settings, configure_logging, producer_config
configure_logging("DEBUG", "json")
producer = Producer(producer_config(Settings(bootstrap_servers="127.0.0.1:1")))
deadline = time.monotonic() + 1.5
while time.monotonic() < deadline:
    producer.poll(0.1)
"""


def test_client_logs_are_structured_at_their_level() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVBUS_")}
    result = subprocess.run(
        [sys.executable, "-c", CLIENT], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    raw = [line for line in lines if line.startswith("%")]  # librdkafka's own stderr format
    assert raw == []
    logged = [json.loads(line) for line in lines]
    ours = [e for e in logged if e["event"] == "librdkafka"]
    refused = [e for e in ours if "Connection refused" in e["detail"]]
    assert refused, lines
    assert {e["level"] for e in refused} == {"error"}  # librdkafka's LOG_ERR, kept
    assert all(e["facility"] == "FAIL" for e in refused)


def test_librdkafka_lines_go_to_stderr_when_the_sdk_user_configured_no_logging(
    capsys: pytest.CaptureFixture[str],
) -> None:
    saved = structlog.get_config()
    structlog.reset_defaults()  # as in a program that only imports the SDK
    try:
        kafka_logger().log(logging.WARNING, "%s [%s] %s", "FAIL", "rdkafka#producer-1", "down")
    finally:
        structlog.configure(**saved)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "librdkafka" in captured.err and "down" in captured.err
