"""Validate + serialize a typical person change, against raw fastavro on the same records.

    python -m bench.serde [--records N] [--rounds R]

govbus side: what a publisher runs on untyped input: pydantic validation of the event, the
catalog checks (identity number, field authority) and the production Confluent wire-format
encoding (`Contract.encode`). Every record has its own identity number, so no cache helps.
Raw side: `fastavro.schemaless_writer` of the same Avro dicts with the same parsed schema.
Best of R rounds each, interleaved, in one run.
"""

from __future__ import annotations

import argparse
import io
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import fastavro

from govbus import Contract, PersonChanged, Settings, load_contract, validate_event
from govbus.consumers.testing import citizen_id


def person_inputs(count: int) -> list[dict[str, Any]]:
    """Raw inputs as a department would submit them (strings, not yet typed)."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    return [
        {
            "event_id": str(uuid.UUID(int=i + 1)),
            "entity_key": citizen_id(i),
            "source_department": "PSB",
            "source_sequence": i,
            "occurred_at": (start + timedelta(seconds=i)).isoformat(),
            "operation": "UPSERT",
            "changed_fields": ["name", "residence_address", "birth_date"],
            "data": {
                "name": "张三",
                "residence_address": "北京市东城区某某街道1号",
                "birth_date": str(date(1949, 12, 31)),
            },
        }
        for i in range(count)
    ]


def run_govbus(inputs: list[dict[str, Any]], contract: Contract) -> float:
    catalog = contract.catalog
    began = time.perf_counter()
    for raw in inputs:
        event = PersonChanged.model_validate(raw)
        contract.encode(validate_event(catalog, event), event)
    return time.perf_counter() - began


def run_raw(records: list[dict[str, Any]], parsed: Any) -> float:
    began = time.perf_counter()
    for record in records:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed, record)
        out.getvalue()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    contract = load_contract(Settings())
    parsed = contract.latest_schema(contract.catalog.resource("BR-PERSON")).parsed
    inputs = person_inputs(args.records)
    # The raw baseline writes the very records govbus produces, already typed.
    records = [PersonChanged.model_validate(raw).to_avro() for raw in inputs]
    run_govbus(inputs[:1000], contract)
    run_raw(records[:1000], parsed)
    govbus_best = raw_best = float("inf")
    for _ in range(args.rounds):
        govbus_best = min(govbus_best, run_govbus(inputs, contract))
        raw_best = min(raw_best, run_raw(records, parsed))
    govbus_rate = args.records / govbus_best
    raw_rate = args.records / raw_best
    print(f"records per round:           {args.records} (best of {args.rounds})")
    print(f"govbus validate + serialize: {govbus_rate:,.0f} records/s")
    print(f"raw fastavro serialize:      {raw_rate:,.0f} records/s")
    print(f"ratio govbus / raw:          {govbus_rate / raw_rate:.2f}x (goal >= 0.70x)")


if __name__ == "__main__":
    main()
