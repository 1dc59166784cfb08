"""The projector against the real broker and the govbus registry: views, backfill,
retirement, and SIGKILLs of a real `govbus project` while events flow."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govbus import (
    ChangeEvent,
    Contract,
    GrantPolicy,
    Settings,
    admin_config,
    ensure_topics,
    grant_disclosure,
    load_contract,
    parse_cloudevent_headers,
    write_views_file,
)
from govbus._schema_push import push_schemas
from govbus._settings import REPO_ROOT
from govbus.consumers._projector import ProjectorOptions, ProjectorService
from govbus.consumers._view_worker import WorkerOptions
from govbus.consumers.testing import publish_events
from govbus.testing import KafkaEndpoint
from tests.projector.helpers import (
    LEGAL_FIELDS,
    PERSON_FIELDS,
    comparable,
    expected_view,
    projector_events,
    read_view,
    view_by_event_id,
)
from tests.registry.conftest import ADMIN, registry_client, serve_gateway

pytestmark = pytest.mark.kafka


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def registry_url(tmp_path: Path) -> Iterator[str]:
    with serve_gateway(f"sqlite:///{tmp_path / 'gateway.db'}") as url:
        push_schemas(REPO_ROOT / "schemas", url, ADMIN)
        yield url


@pytest.fixture
def settings(kafka: KafkaEndpoint, registry_url: str) -> Settings:
    return Settings(
        bootstrap_servers=kafka.bootstrap_servers,
        schema_registry_url=registry_url,
        schema_registry_auth=ADMIN,
    )


@pytest.fixture
def registry_contract(settings: Settings) -> Contract:
    return load_contract(settings)


def create_base_topics(settings: Settings, contract: Contract, prefix: str) -> None:
    topics = [prefix + t for t in contract.catalog.topics()]
    ensure_topics(admin_config(settings), topics, partitions=3)


def policies(contract: Contract) -> tuple[GrantPolicy, GrantPolicy]:
    catalog = contract.catalog
    return (
        grant_disclosure(catalog.resource("BR-PERSON"), PERSON_FIELDS),
        grant_disclosure(catalog.resource("BR-LEGAL-ENTITY"), LEGAL_FIELDS),
    )


def run_projector(
    settings: Settings, contract: Contract, prefix: str, wanted: list[GrantPolicy], **opts: Any
) -> ProjectorService:
    service = ProjectorService(
        settings,
        contract,
        lambda: list(wanted),
        ProjectorOptions(
            topic_prefix=prefix,
            refresh_seconds=0.5,
            max_idle_seconds=2.0,
            worker=WorkerOptions(instance_id="t"),
            **opts,
        ),
    )
    service.run()
    return service


def assert_view_matches(
    settings: Settings,
    contract: Contract,
    prefix: str,
    policy: GrantPolicy,
    events: list[ChangeEvent[Any]],
) -> list[tuple[Any, dict[str, Any]]]:
    """Each expected event exactly once with the expected values; nothing else."""
    found = read_view(
        settings, registry_client(settings.schema_registry_url or ""), prefix + policy.view_topic
    )
    by_id = view_by_event_id(found)
    expected = expected_view(policy, events)
    duplicated = [i for i, values in by_id.items() if len(values) > 1]
    assert not duplicated, f"{len(duplicated)} events written more than once"
    assert set(by_id) == set(expected), (
        f"missing {len(set(expected) - set(by_id))}, unexpected {len(set(by_id) - set(expected))}"
    )
    for event_id, values in by_id.items():
        assert comparable(values[0]) == expected[event_id]
    return found


def test_views_are_projected_backfilled_and_retired(
    settings: Settings, registry_contract: Contract, prefix: str
) -> None:
    contract = registry_contract
    create_base_topics(settings, contract, prefix)
    events = projector_events(random.Random(3), 600)
    publish_events(settings, contract, events, topic_prefix=prefix)
    person_policy, legal_policy = policies(contract)
    wanted = [person_policy]
    run_projector(settings, contract, prefix, wanted)
    found = assert_view_matches(settings, contract, prefix, person_policy, events)

    by_event = {str(e.event_id): e for e in events}
    base_keys = {str(e.event_id): contract.record_key(e) for e in events}
    order: dict[bytes, list[int]] = {}
    for message, value in found:
        attributes = parse_cloudevent_headers(message.headers())
        event = by_event[value["event_id"]]
        assert attributes.id == value["event_id"]
        assert attributes.time == event.occurred_at.isoformat()
        assert message.key() == base_keys[value["event_id"]]  # same key bytes
        order.setdefault(message.key(), []).append(event.source_sequence)
        for text in ("education", "sex", "birth_date"):  # not granted: never in a view
            assert text not in (value["data"] or {})
    partitions = {m.key(): m.partition() for m, _v in found}
    assert len(partitions) == len(order)  # a key stays on one partition
    in_view = set(view_by_event_id(found))
    base_order: dict[bytes, list[int]] = {}
    for e in events:  # published in list order: the base topic's order per key
        if str(e.event_id) in in_view:
            base_order.setdefault(base_keys[str(e.event_id)], []).append(e.source_sequence)
    assert order == base_order

    # A new view starts from the beginning of the base topic; the old one is then retired.
    wanted[:] = [legal_policy]
    run_projector(settings, contract, prefix, wanted, delete_grace_seconds=0.0)
    assert_view_matches(settings, contract, prefix, legal_policy, events)
    from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]

    topics = AdminClient(admin_config(settings)).list_topics(timeout=10).topics
    assert prefix + person_policy.view_topic not in topics
    assert prefix + legal_policy.view_topic in topics
    subject = prefix + legal_policy.view_topic + "-value"
    registered = registry_client(settings.schema_registry_url or "").get_latest_version(subject)
    assert '"PersonData"' not in (registered.schema.schema_str or "")


# --- a real `govbus project`, SIGKILLed at random points ----------------------------------


def start_projector(
    settings: Settings, views: Path, prefix: str, log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GOVBUS_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "GOVBUS_SCHEMA_REGISTRY_URL": settings.schema_registry_url or "",
        "GOVBUS_SCHEMA_REGISTRY_AUTH": ADMIN,
    }
    command = [
        sys.executable,
        "-c",
        "from govbus.cli import main; main()",
        "project",
        "--views",
        str(views),
        "--topic-prefix",
        prefix,
        "--instance-id",
        "kill-test",
        "--batch-size",
        "100",
        *extra,
    ]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_for_count(log: Path, text: str, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (log.read_text(errors="replace") if log.exists() else "").count(text) < count:
        assert time.monotonic() < deadline, f"fewer than {count} {text!r} in {log}"
        time.sleep(0.1)


@pytest.fixture
def reaper() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_sigkill_at_random_points_writes_each_event_once(
    settings: Settings,
    registry_contract: Contract,
    prefix: str,
    tmp_path: Path,
    reaper: list[subprocess.Popen[bytes]],
) -> None:
    contract = registry_contract
    create_base_topics(settings, contract, prefix)
    rng = random.Random(11)
    events = projector_events(rng, 3000, people=200)
    views = tmp_path / "views.json"
    write_views_file(views, [("BR-PERSON", PERSON_FIELDS), ("BR-LEGAL-ENTITY", LEGAL_FIELDS)])
    log = tmp_path / "project.log"

    def flow() -> None:
        for start in range(0, len(events), 50):
            publish_events(settings, contract, events[start : start + 50], topic_prefix=prefix)
            time.sleep(0.15)

    publisher = threading.Thread(target=flow, daemon=True)
    publisher.start()
    for run in range(1, 5):
        process = start_projector(settings, views, prefix, log)
        reaper.append(process)
        wait_for_count(log, "partitions assigned", 2 * run, 90)  # both views are working
        time.sleep(rng.uniform(0.2, 2.5))
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    publisher.join(120)
    assert log.read_text().count("view stopped") == 0  # every run ended by SIGKILL
    final = start_projector(settings, views, prefix, log, "--until-idle", "--max-idle-seconds", "3")
    reaper.append(final)
    assert final.wait(180) == 0, log.read_text()[-3000:]
    for policy in policies(contract):
        assert_view_matches(settings, contract, prefix, policy, events)


def test_two_instances_split_the_partitions(
    settings: Settings, registry_contract: Contract, prefix: str
) -> None:
    contract = registry_contract
    create_base_topics(settings, contract, prefix)
    person_policy, _legal = policies(contract)
    events = projector_events(random.Random(17), 1500)
    services = [
        ProjectorService(
            settings,
            contract,
            lambda: [person_policy],
            ProjectorOptions(
                topic_prefix=prefix,
                refresh_seconds=0.5,
                max_idle_seconds=10.0,  # longer than joining and publishing take
                worker=WorkerOptions(instance_id=name),
            ),
        )
        for name in ("a", "b")
    ]
    threads = [threading.Thread(target=s.run, daemon=True) for s in services]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 90
    while not all(  # both have joined the view's group and hold partitions
        any(w.owned for w, _t in list(s.workers.values())) for s in services
    ):
        assert time.monotonic() < deadline, "the instances did not share the partitions"
        time.sleep(0.2)
    for start in range(0, len(events), 150):
        publish_events(settings, contract, events[start : start + 150], topic_prefix=prefix)
        time.sleep(0.1)
    for thread in threads:
        thread.join(120)
    consumed = [sum(w.totals.consumed for w, _t in s.workers.values()) for s in services]
    assert all(c > 0 for c in consumed), consumed  # each instance had partitions
    persons = sum(1 for e in events if e.entity == "person")
    assert sum(consumed) >= persons
    assert_view_matches(settings, contract, prefix, person_policy, events)
