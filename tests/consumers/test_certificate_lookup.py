"""The read side reads certificate keys with `CertificateKey`: lookups by key or by bare
number, the key shown with its number as the catalog says, and a malformed key refused by
name."""

from __future__ import annotations

from pathlib import Path

import pytest

from govbus import Catalog, EntityKind, ErrorCode, GovbusError
from govbus.consumers import KafkaPosition, SourcedEvent, apply_batch, open_store
from govbus.consumers._queries import find_certificates, masked_key
from govbus.consumers.testing import MARRIAGE, certificate, citizen_id

NUMBER = "M20240229001"


def test_certificates_are_found_by_key_or_bare_number_and_shown_masked(
    tmp_path: Path, catalog: Catalog
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'base.db'}")
    event = certificate(MARRIAGE, NUMBER, 1, "CAB", holder_id=citizen_id(1), holder_type="person")
    item = SourcedEvent(event, KafkaPosition("govbus.base.certificate", 0, 0))
    apply_batch(store, [item], catalog=catalog, group="t")
    try:
        key = f"{MARRIAGE}:{NUMBER}"
        assert [r.key for r in find_certificates(catalog, store, key)] == [key]
        assert [r.key for r in find_certificates(catalog, store, NUMBER)] == [key]
        assert find_certificates(catalog, store, f"{MARRIAGE}:other") == []
        shown = masked_key(catalog, EntityKind.CERTIFICATE, key, unmasked=False)
        assert shown.startswith(f"{MARRIAGE}:")  # the number masked per the catalog
        assert masked_key(catalog, EntityKind.CERTIFICATE, key, unmasked=True) == key
        with pytest.raises(GovbusError) as info:
            masked_key(catalog, EntityKind.CERTIFICATE, NUMBER, unmasked=False)
        assert (info.value.code, info.value.field) == (ErrorCode.INVALID_IDENTIFIER, "entity_key")
    finally:
        store.close()
