"""The gateway's views export: grants → the views file the projector reads, audited."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from govbus import Catalog, grant_disclosure, read_views_file
from govbus.gateway.audit import MemoryAuditLog
from govbus.gateway.subscriptions import Grant
from govbus.gateway.views import export_views

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def grant(n: int, resource: str, fields: tuple[str, ...], delivery: str = "kafka") -> Grant:
    return Grant(
        id=f"s{n}",
        subscriber=f"sub{n}",
        department="HOUSING",
        resource=resource,
        fields=fields,
        delivery=delivery,  # type: ignore[arg-type]
        approved_at=NOW,
        expires_at=None,
    )


def test_export_writes_shared_views_and_audits_each_change(
    catalog: Catalog, tmp_path: Path
) -> None:
    path = tmp_path / "views.json"
    audit = MemoryAuditLog()
    legal = catalog.resource("BR-LEGAL-ENTITY")
    every_legal = tuple(sorted(f.name for f in legal.fields))
    grants = [
        grant(1, "BR-PERSON", ("name",)),
        grant(2, "BR-PERSON", ("name",), "http"),  # the same field set: the same view
        grant(3, "BR-PERSON", ("marital_status", "name")),
        grant(4, "BR-PERSON", ("education",), "lookup"),  # lookups read the store
        grant(5, "BR-LEGAL-ENTITY", every_legal),
    ]
    changes = export_views(catalog, grants, path, audit, actor="t")
    person = catalog.resource("BR-PERSON")
    expected = {
        grant_disclosure(person, ("name",)).view_topic,
        grant_disclosure(person, ("marital_status", "name")).view_topic,
    }
    if not grant_disclosure(legal, every_legal).reads_raw_topic:
        expected.add(grant_disclosure(legal, every_legal).view_topic)
    assert {p.view_topic for p in read_views_file(catalog, path)} == expected
    assert {c.topic for c in changes if c.kind == "wanted"} == expected
    assert [r.action for r in audit.records] == ["view.wanted"] * len(expected)
    assert all(r.fields and r.target in expected for r in audit.records)

    # The marital-status grant is revoked: its view is no longer wanted, and only it.
    again = export_views(catalog, grants[:2] + grants[3:], path, audit, actor="t")
    gone = grant_disclosure(person, ("marital_status", "name")).view_topic
    assert [(c.kind, c.topic) for c in again] == [("unwanted", gone)]
    assert audit.records[-1].action == "view.unwanted"
    count = len(audit.records)
    assert export_views(catalog, grants[:2] + grants[3:], path, audit, actor="t") == []
    assert len(audit.records) == count  # nothing changed, nothing audited


def test_export_follows_the_workflow_grants(catalog: Catalog, tmp_path: Path) -> None:
    from govbus.gateway._auth import Principal
    from govbus.gateway._db import open_database
    from govbus.gateway.subscriptions import SubscriptionRequest, SubscriptionService

    bank = Principal(name="bank01", department="BANK01", roles=frozenset({"subscriber"}))
    psb = Principal(name="psb", department="PSB", roles=frozenset({"provider"}))
    audit = MemoryAuditLog()
    service = SubscriptionService(
        open_database(f"sqlite:///{tmp_path / 'gw.db'}"), catalog, audit, clock=lambda: NOW
    )
    body = SubscriptionRequest.model_validate(
        {
            "resource": "BR-PERSON",
            "fields": ["name", "marital_status"],
            "purpose": "housing-loan applicant checks",
            "legal_basis": "provincial data-sharing rules, art. 12",
            "delivery": "kafka",
        }
    )
    pending = service.request(bank, body)  # conditional fields: the provider decides
    path = tmp_path / "views.json"
    assert export_views(catalog, service.active_grants(NOW), path, audit, actor="t") == []
    service.approve(psb, pending.id)
    topic = grant_disclosure(catalog.resource("BR-PERSON"), ["name", "marital_status"]).view_topic
    wanted = export_views(catalog, service.active_grants(NOW), path, audit, actor="t")
    assert [(c.kind, c.topic) for c in wanted] == [("wanted", topic)]
    service.revoke(psb, pending.id, "contract ended")
    unwanted = export_views(catalog, service.active_grants(NOW), path, audit, actor="t")
    assert [(c.kind, c.topic) for c in unwanted] == [("unwanted", topic)]
    assert read_views_file(catalog, path) == []


def test_gateway_rewrites_the_views_file_on_grant_changes(catalog: Catalog, tmp_path: Path) -> None:
    from govbus.gateway._app import create_app
    from govbus.gateway._auth import Principal
    from govbus.gateway._settings import GatewaySettings
    from govbus.gateway.subscriptions import SubscriptionRequest

    path = tmp_path / "views.json"
    app = create_app(
        GatewaySettings(gateway_db=f"sqlite:///{tmp_path / 'gw.db'}", gateway_views_file=path)
    )
    assert read_views_file(catalog, path) == []  # written at start
    bank = Principal(name="bank01", department="BANK01", roles=frozenset({"subscriber"}))
    psb = Principal(name="psb", department="PSB", roles=frozenset({"provider"}))
    body = SubscriptionRequest.model_validate(
        {
            "resource": "BR-PERSON",
            "fields": ["name"],
            "purpose": "housing-loan applicant checks",
            "legal_basis": "provincial data-sharing rules, art. 12",
            "delivery": "http",
        }
    )
    pending = app.state.subscriptions.request(bank, body)
    app.state.subscriptions.approve(psb, pending.id)
    topic = grant_disclosure(catalog.resource("BR-PERSON"), ["name"]).view_topic
    assert [p.view_topic for p in read_views_file(catalog, path)] == [topic]
    app.state.subscriptions.revoke(psb, pending.id, "contract ended")
    assert read_views_file(catalog, path) == []
    app.state.audit.close()
