"""Rule A end to end, on the real broker: personal values never leave the payload.

Good and bad events carrying distinctive personal values go in through every way in: the
Publisher SDK, `govbus publish` (a subprocess), `POST /v1/events` and raw records read by
`govbus sync` (a subprocess, JSON logs). Then none of those values may appear in what
operators see: logs, error messages and HTTP bodies, CLI output, Prometheus metrics,
dead-letter headers, quarantine reasons, and the Kafka keys of persons.

The SDK, CLI and HTTP paths write to the catalog's own topics (shared with other tests):
their records are found by entity key and mirrored, with the crafted bad records, into
topics under a unique prefix that the sync reads with its own group and DLQ topic.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from fastapi.testclient import TestClient

from govbus import (
    ChangeEvent,
    Contract,
    GovbusError,
    Settings,
    admin_config,
    cloudevent_headers,
    configure_logging,
    ensure_catalog_topics,
    ensure_topics,
    load_contract,
)
from govbus._identifiers import is_valid_uscc
from govbus.consumers import open_store
from govbus.consumers.testing import MARRIAGE, certificate, citizen_id, legal_entity, person, uscc
from govbus.gateway._app import create_app
from govbus.gateway._ingest import IngestState
from govbus.gateway._settings import GatewaySettings
from govbus.producers import Publisher
from govbus.testing import KafkaEndpoint

pytestmark = pytest.mark.kafka

RUN = uuid.uuid4().int % 300_000
ID = citizen_id(RUN)  # valid, distinct per run
# A wrong check digit; also not a valid USCC (an 18-digit string is one 1 time in 31, and
# it is sent as a legal entity's key below).
BAD_ID = next(
    bad
    for bad in (ID[:17] + check for check in "0123456789X" if check != ID[17])
    if not is_valid_uscc(bad)
)
HOLDER_ID = citizen_id((RUN + 1) % 300_000)
NAME = "欧阳测试娜"
PHONE = "13987654321"
ADDRESS = "幸福大街88号测试楼"
LEGAL_REP = "司马测试懿"
PERSONAL = (ID, BAD_ID, HOLDER_ID, NAME, PHONE, ADDRESS, LEGAL_REP)
COMPANY = uscc(RUN)
PERSON_TOPIC = "govbus.base.person"


@dataclass
class Seen:
    """Everything an operator or caller could read, by where it came from."""

    texts: dict[str, list[str]] = field(default_factory=dict)

    def add(self, where: str, text: str | bytes | None) -> None:
        if text is None:
            return
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        self.texts.setdefault(where, []).append(text)

    def leaks(self) -> list[tuple[str, str, str]]:
        return [
            (where, value, text[:300])
            for where, texts in self.texts.items()
            for text in texts
            for value in PERSONAL
            if value in text
        ]


@pytest.fixture
def settings(kafka: KafkaEndpoint) -> Settings:
    return Settings(bootstrap_servers=kafka.bootstrap_servers)


@pytest.fixture
def contract(settings: Settings) -> Contract:
    return load_contract(settings)


@pytest.fixture
def json_logs() -> Iterator[None]:
    configure_logging("DEBUG", "json")
    yield
    structlog.reset_defaults()


def govbus_command(*args: str, env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-c", "from govbus.cli import main; main()", *args],
        env={**os.environ, "GOVBUS_LOG_FORMAT": "json", "GOVBUS_LOG_LEVEL": "DEBUG", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result.returncode, result.stdout + result.stderr


# -- the ways in ------------------------------------------------------------------------


def through_the_sdk(settings: Settings, contract: Contract, seen: Seen) -> None:
    good: list[ChangeEvent[Any]] = [
        person(ID, 1, name=NAME, household_address=ADDRESS),
        legal_entity(COMPANY, 1, legal_representative=LEGAL_REP),
        certificate(MARRIAGE, f"M{RUN}", 1, "CAB", holder_id=HOLDER_ID, holder_type="person"),
    ]
    refused: list[tuple[str, ChangeEvent[Any]]] = [
        ("PSB", person(BAD_ID, 2, name=NAME)),  # invalid identifier
        ("PSB", person(ID, 3, "PSB", phone=PHONE)),  # phone is HRSS's
        ("PSB", person(ID, 4, name=NAME * 80_000)),  # oversized (over 1 MB)
        ("PSB", person(ID, 5, "CAB", name=NAME)),  # claims another department
        ("CAB", certificate(MARRIAGE, "M0", 1, "CAB", holder_id=BAD_ID, holder_type="person")),
        ("PSB", certificate(MARRIAGE, "M0", 1, "CAB", holder_id=ID, holder_type="person")),
        ("AMR", legal_entity(BAD_ID, 1, legal_representative=LEGAL_REP)),
    ]
    departments = {"PSB": good[:1], "AMR": good[1:2], "CAB": good[2:]}
    for department, events in departments.items():
        with Publisher(department, settings, contract=contract) as publisher:
            for event in events:
                publisher.publish(event)
            for sender, bad in refused:
                if sender != department:
                    continue
                with pytest.raises(GovbusError) as caught:
                    publisher.publish(bad)
                seen.add("GovbusError", str(caught.value))
                seen.add("GovbusError.to_dict", json.dumps(caught.value.to_dict()))
            assert publisher.flush(30) == []


def through_file_ingestion(settings: Settings, tmp_path: Path, seen: Seen) -> None:
    lines = [
        json.dumps({"entity_key": ID, "source_sequence": 10, "name": NAME}, ensure_ascii=False),
        json.dumps({"entity_key": BAD_ID, "source_sequence": 11, "name": NAME}),
        json.dumps({"entity_key": ID, "source_sequence": 12, "phone": PHONE}),
        json.dumps({"entity_key": ID, "source_sequence": 13, ID: NAME, NAME: PHONE}),
        json.dumps({"entity_key": ID, "source_sequence": 14, "sex": PHONE}),
        json.dumps(
            {"entity_key": ID, "source_sequence": 15, "household_address": ADDRESS * 50_000}
        ),
        f"{ID},{NAME},{PHONE} is not JSON",
    ]
    path = tmp_path / f"people-{NAME}.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {"GOVBUS_BOOTSTRAP_SERVERS": settings.bootstrap_servers}
    code, output = govbus_command(
        "publish", "--department", "PSB", "--resource", "BR-PERSON", str(path), env=env
    )
    assert code == 1, output  # lines were refused: partly done
    assert "published: 1" in output and "rejected: 6" in output, output
    # The file name is the department's own; the rest of the output must not hold values.
    seen.add("govbus publish output", output.replace(path.name, "<file>"))


def through_http(settings: Settings, tmp_path: Path, seen: Seen) -> None:
    gateway_settings = GatewaySettings(
        bootstrap_servers=settings.bootstrap_servers,
        gateway_db=f"sqlite:///{tmp_path / 'gateway.db'}",
    )
    app = create_app(gateway_settings)
    app.state.ingest = IngestState(gateway_settings)
    client = TestClient(app, raise_server_exceptions=False)
    psb = ("psb", "dev-psb")

    def event(**fields: Any) -> dict[str, Any]:
        return {"resource": "BR-PERSON", "entity_key": ID, "source_sequence": 20, **fields}

    bad_batches: list[Any] = [
        [event(data={"name": NAME}), event(entity_key=BAD_ID, data={"name": NAME})],
        [event(data={"phone": PHONE})],
        [event(data={ID: NAME, NAME: PHONE})],
        [{**event(data={"name": NAME}), PHONE: ID}],
        [event(data={"sex": PHONE, "birth_date": ID})],
        [{"entity": "certificate", "entity_key": ID, "source_sequence": 1, "data": {}}],
        [event(resource=ID, data={"name": NAME})],
        [event(data={"household_address": ADDRESS * 50_000})],
        [event(operation=NAME)],
    ]
    for batch in bad_batches:
        response = client.post("/v1/events", json={"events": batch}, auth=psb)
        assert 400 <= response.status_code < 500, response.text
        seen.add("HTTP 4xx body", response.text)
    malformed = f'{{"events": [{{"entity_key": "{ID}", "name": "{NAME}"'.encode()
    response = client.post(
        "/v1/events", content=malformed, headers={"content-type": "application/json"}, auth=psb
    )
    seen.add("HTTP malformed body", response.text)
    garbled = base64.b64encode(f"{ID}:{NAME}".encode()).decode()
    for header in (f"Basic {garbled}", f"Bearer {ID}.{PHONE}"):
        response = client.post(
            "/v1/events", json={"events": [event()]}, headers={"authorization": header}
        )
        assert response.status_code == 401
        seen.add("HTTP 401 body", response.text)
    response = client.post(
        "/v1/events", json={"events": [event(data={"residence_address": ADDRESS})]}, auth=psb
    )
    assert response.status_code == 202, response.text
    seen.add("HTTP 202 body", response.text)


# -- the sync: our records and crafted bad ones, under a unique prefix ------------------


def ours(contract: Contract, topic: str, value: bytes) -> bool:
    try:
        event = contract.decode(topic, value)
    except GovbusError:
        return False
    holder = getattr(event.data, "holder_id", None)
    return event.entity_key in (ID, COMPANY) or holder == HOLDER_ID


def read_topic(settings: Settings, topic: str) -> list[Any]:
    """Every record of a topic, from the beginning (assigned: no group involved)."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": f"audit-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    metadata = consumer.list_topics(topic, timeout=10).topics[topic]
    partitions = list(metadata.partitions)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    found: list[Any] = []
    at_end: set[int | None] = set()
    deadline = time.monotonic() + 20
    while len(at_end) < len(partitions) and time.monotonic() < deadline:
        for message in consumer.consume(500, 0.5):
            error = message.error()
            if error is None:
                found.append(message)
            elif error.code() == KafkaError._PARTITION_EOF:
                at_end.add(message.partition())
    consumer.close()
    return found


def crafted_bad_records(contract: Contract) -> list[tuple[str, bytes | None, bytes, Any]]:
    """(topic, key, value, headers) that the sync must dead-letter."""
    catalog = contract.catalog
    person_resource = catalog.resource("BR-PERSON")

    def encoded(event: ChangeEvent[Any], resource_code: str) -> tuple[bytes, Any]:
        value = contract.encode(catalog.resource(resource_code), event)
        headers = cloudevent_headers(
            event_id=str(event.event_id),
            department=event.source_department,
            entity=str(event.entity),
            occurred_at=event.occurred_at,
            subject=contract.record_key(event).decode(),
        )
        return value, headers

    good_value, good_headers = encoded(person(ID, 30, name=NAME), "BR-PERSON")
    key = contract.record_key(person(ID, 1, name=NAME))
    records: list[tuple[str, bytes | None, bytes, Any]] = []

    def add(topic: str, value: bytes, headers: Any, record_key: bytes | None = key) -> None:
        records.append((topic, record_key, value, headers))

    add(PERSON_TOPIC, good_value[:5] + b"\xff\xfe" + good_value[7:], good_headers)  # malformed
    add(PERSON_TOPIC, good_value[:-3], good_headers)  # truncated
    add(PERSON_TOPIC, b"\x00\x00\x00\x27\x0f" + good_value[5:], good_headers)  # unknown schema
    add(PERSON_TOPIC, good_value, [])  # missing headers
    add(PERSON_TOPIC, f"{ID} {NAME} {PHONE}".encode(), good_headers)  # not Avro at all
    company_value, company_headers = encoded(
        legal_entity(COMPANY, 2, legal_representative=LEGAL_REP), "BR-LEGAL-ENTITY"
    )
    add(PERSON_TOPIC, company_value, company_headers)  # wrong schema for the topic
    for event in (
        person(ID, 31, "PSB", phone=PHONE),  # not authoritative
        person(BAD_ID, 32, name=NAME),  # invalid identifier
        person(ID, 33, name=NAME * 3000),  # oversized for the sync's limit below
    ):
        value, headers = encoded(event, person_resource.code)
        add(PERSON_TOPIC, value, headers, contract.record_key(event))
    odd_certificate = certificate(MARRIAGE, "M1", 1, "CAB", holder_id=HOLDER_ID)
    value, headers = encoded(odd_certificate, "EC-MARRIAGE")
    certificate_topic = "govbus.base.certificate"
    add(certificate_topic, value, headers, contract.record_key(odd_certificate))  # no holder_type
    bad_holder = certificate(
        MARRIAGE, "M2", 1, "CAB", holder_id=BAD_ID, holder_type="person", valid_to=date.today()
    )
    value, headers = encoded(bad_holder, "EC-MARRIAGE")
    add(certificate_topic, value, headers, contract.record_key(bad_holder))
    return records


def mirror_and_sync(settings: Settings, contract: Contract, tmp_path: Path, seen: Seen) -> None:
    prefix = f"audit{uuid.uuid4().hex[:8]}."
    dlq = f"{prefix}dlq"
    topics = contract.catalog.topics()
    ensure_topics(admin_config(settings), [*(prefix + t for t in topics), dlq], partitions=1)
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers})
    mirrored = 0
    for topic in topics:
        for message in read_topic(settings, topic):
            if not ours(contract, topic, message.value()):
                continue
            if topic == PERSON_TOPIC:  # Rule A: persons are keyed by pseudonym
                assert message.key() not in (None, ID.encode()), message.key()
                seen.add("person record key", message.key())
            for _name, header in message.headers() or []:
                seen.add("record header", header)
            producer.produce(
                prefix + topic, key=message.key(), value=message.value(), headers=message.headers()
            )
            mirrored += 1
    assert mirrored >= 5  # SDK 3, CLI 1, HTTP 1
    bad = crafted_bad_records(contract)
    for topic, key, value, headers in bad:
        producer.produce(prefix + topic, key=key, value=value, headers=headers)
    assert producer.flush(30) == 0

    store_url = f"sqlite:///{tmp_path / 'base.db'}"
    env = {
        "GOVBUS_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "GOVBUS_DLQ_TOPIC": dlq,
        "GOVBUS_MAX_EVENT_BYTES": "20000",
    }
    group = f"audit-{uuid.uuid4().hex[:8]}"
    sync_args = ("--store", store_url, "--topic-prefix", prefix, "--group", group)
    code, output = govbus_command(
        "sync", *sync_args, "--until-idle", "--max-idle-seconds", "1.5", env=env
    )
    assert code == 1, output[-3000:]  # records were dead-lettered: partly done
    assert '"record rejected"' in output, output[-3000:]  # JSON log lines were captured
    seen.add("govbus sync logs", output)

    store = open_store(store_url)
    try:
        quarantined = store.quarantined()
    finally:
        store.close()
    assert len(quarantined) == len(bad), [(q.error_code, q.reason) for q in quarantined]
    for row in quarantined:
        seen.add("quarantine reason", row.reason)
        seen.add("quarantine error code", row.error_code)
    [oversized] = [q for q in quarantined if q.error_code == "PAYLOAD_TOO_LARGE"]
    assert oversized.record_value is not None and len(oversized.record_value) > 20_000

    dead = read_topic(settings, dlq)
    assert len(dead) == len(bad)
    for message in dead:
        for name, value in message.headers() or []:
            seen.add("DLQ header", f"{name}={value!r}")
            seen.add("DLQ header", value)
        assert message.key() not in (ID.encode(), BAD_ID.encode())
        headers = dict(message.headers() or [])
        if headers["govbus_error_code"] == b"PAYLOAD_TOO_LARGE":  # kept in quarantine only
            assert message.value() is None and b"quarantine" in headers["govbus_value_dropped"]


# -- the audit --------------------------------------------------------------------------


def test_personal_values_never_reach_logs_errors_metrics_headers_or_keys(
    settings: Settings,
    contract: Contract,
    tmp_path: Path,
    json_logs: None,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    ensure_catalog_topics(contract.catalog, settings)
    seen = Seen()

    through_the_sdk(settings, contract, seen)
    through_file_ingestion(settings, tmp_path, seen)
    through_http(settings, tmp_path, seen)
    mirror_and_sync(settings, contract, tmp_path, seen)

    captured = capsys.readouterr()
    assert "publish_refused" in captured.err  # the in-process JSON logs were captured
    seen.add("in-process stderr", captured.err)
    seen.add("in-process stdout", captured.out)
    seen.add("stdlib logging", caplog.text)
    seen.add("prometheus exposition", prometheus_client.generate_latest())

    assert not seen.leaks(), "\n".join(map(str, seen.leaks()))
    assert {"GovbusError", "HTTP 4xx body", "DLQ header", "quarantine reason"} <= set(seen.texts)
