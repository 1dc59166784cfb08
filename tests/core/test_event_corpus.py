"""The shared event corpus (`tests/event_corpus.py`) is one the catalog accepts."""

from __future__ import annotations

from typing import Any

import pytest

from govbus import ChangeEvent, validate_event
from tests.event_corpus import CATALOG, EVENTS, event_id


@pytest.mark.parametrize("event", EVENTS, ids=event_id)
def test_every_corpus_event_passes_the_catalogs_validation(event: ChangeEvent[Any]) -> None:
    resource = validate_event(CATALOG, event)
    assert resource.entity is event.entity


def test_the_corpus_covers_every_schema_and_operation() -> None:
    assert {e.schema_name for e in EVENTS} == {r.schema_name for r in CATALOG.resources}
    assert {e.operation for e in EVENTS} == {"UPSERT", "DELETE"}
    assert len({event_id(e) for e in EVENTS}) == len(EVENTS)
