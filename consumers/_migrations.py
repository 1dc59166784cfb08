"""Versioned store migrations: one list for both backends, recorded in `schema_migrations`.

Statements use `{placeholders}` for the few types the dialects spell differently.
A migration, once released, is never edited: add a new one.

Layout choice: one typed column per catalog field rather than a JSON document. Upserts
rewrite whole rows either way (the merge happens in memory per batch), but typed columns
let readers index and filter (`valid_to`, `holder_id`, `status`) without JSON operators,
and COPY/executemany of flat tuples is the fastest bulk path on both drivers.

Provenance (migration 2) lives in one JSON column of the record, {field: stamp} (see
`govbus.consumers._store.Stamp`), not in a row per field: an event is one row write, and the
merge reads values and sequences in the same SELECT. It is the current provenance of each
field, which is what the store promises; there is no provenance history.

Migration 3 splits that column into two per field, `<field>__seq` (integer) and
`<field>__src` ("department event-id-hex occurred-µs applied-µs"), plus `_record__*` and
`_key__*` (the newest key-authority upsert, what a restore needs), and `_stale` (how
many fields of the record's last merge were stale: PostgreSQL returns it to count them).
With the sequences in plain integer columns the merge is one `INSERT … ON CONFLICT DO
UPDATE SET f = CASE WHEN excluded.f__seq > f__seq …` per batch (`govbus.consumers._merge_sql`):
no read, no merge in Python. (Since the merge statements per shape, `_key__*` are only the
carrier of a key-authority upsert's stamp when it sets no field: written on insert, never
read; see `govbus.consumers._merge_sql`.) Keys with several events in a batch are the
exception: read, merged in memory and written whole (`govbus.consumers._key_merge`).

Migration 6 gives each processed event id its claim time (`processed_at`; PostgreSQL:
indexed; SQLite: integer µs since the epoch, in a rowid table whose head is the oldest), so
that ids older than the retention window can be pruned (`govbus.consumers._dedup_retention`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DIALECTS: dict[str, dict[str, str]] = {
    "sqlite": {
        "text": "TEXT",
        "date": "TEXT",
        "numeric": "TEXT",
        "json": "TEXT",
        "json_text": "TEXT",
        "bytes": "BLOB",
        "ts": "TEXT",
        "bool": "INTEGER",
        "uuid": "TEXT",
        "bigint": "INTEGER",
        "id_pk": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "false": "0",
    },
    "postgresql": {
        "text": "text",
        "date": "date",
        "numeric": "numeric(22, 2)",
        "json": "jsonb",
        "json_text": "json",
        "bytes": "bytea",
        "ts": "timestamptz",
        "bool": "boolean",
        "uuid": "uuid",
        "bigint": "bigint",
        "id_pk": "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "false": "false",
    },
}


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]
    by_dialect: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Statements run after `statements`, for data moves the dialects spell differently."""

    def render(self, dialect: str) -> list[str]:
        types = DIALECTS[dialect]
        common = [statement.format(**types) for statement in self.statements]
        return [*common, *self.by_dialect.get(dialect, ())]


_ENTITY_META = """
    deleted {bool} NOT NULL DEFAULT {false},
    updated_at {ts} NOT NULL"""

_ENTITY_TABLES = {
    "person": "persons",
    "legal_entity": "legal_entities",
    "certificate": "certificates",
}

# SQLite kept timestamps as Python ISO text: whole seconds via unixepoch() (which applies
# the UTC offset), plus the optional six fraction digits.
_SQLITE_US = (
    "(unixepoch({c}) * 1000000 + "
    "CASE WHEN substr({c}, 20, 1) = '.' THEN CAST(substr({c}, 21, 6) AS INTEGER) ELSE 0 END)"
)


def _move_provenance_sqlite(entity: str, table: str) -> str:
    stamp = (
        "json_array(source_department, source_sequence, event_id, "
        f"{_SQLITE_US.format(c='occurred_at')}, {_SQLITE_US.format(c='applied_at')})"
    )
    return (
        f"UPDATE {table} SET provenance = (SELECT json_group_object(field, json({stamp})) "
        f"FROM field_provenance p WHERE p.entity_type = '{entity}' "
        f"AND p.entity_key = {table}.entity_key) "
        f"WHERE EXISTS (SELECT 1 FROM field_provenance p WHERE p.entity_type = '{entity}' "
        f"AND p.entity_key = {table}.entity_key)"
    )


def _move_provenance_postgresql(entity: str, table: str) -> str:
    us = "(extract(epoch FROM {c}) * 1000000)::bigint"
    stamp = (
        "json_build_array(source_department, source_sequence, "
        f"replace(event_id::text, '-', ''), {us.format(c='occurred_at')}, "
        f"{us.format(c='applied_at')})"
    )
    return (
        f"UPDATE {table} t SET provenance = p.stamps FROM (SELECT entity_key, "
        f"json_object_agg(field, {stamp}) AS stamps FROM field_provenance "
        f"WHERE entity_type = '{entity}' GROUP BY entity_key) p "
        "WHERE t.entity_key = p.entity_key"
    )


_PROVENANCE_WITH_RECORD = Migration(
    2,
    "field provenance as one column of each record (one row write per event)",
    tuple(
        f"ALTER TABLE {table} ADD COLUMN provenance {{json_text}} NOT NULL DEFAULT '{{{{}}}}'"
        for table in _ENTITY_TABLES.values()
    ),
    {
        "sqlite": (
            *(_move_provenance_sqlite(e, t) for e, t in _ENTITY_TABLES.items()),
            "DROP TABLE field_provenance",
        ),
        "postgresql": (
            *(_move_provenance_postgresql(e, t) for e, t in _ENTITY_TABLES.items()),
            "DROP TABLE field_provenance",
        ),
    },
)


# Migration 3 is frozen with the field lists of migration 1 (not derived from the models,
# which may grow): a later field comes with its own migration.
_FIELDS_V1 = {
    "persons": (
        "name", "sex", "birth_date", "ethnicity", "household_address", "residence_address",
        "marital_status", "education", "phone", "death_date",
    ),
    "legal_entities": (
        "name", "entity_type", "legal_representative", "registered_capital",
        "registered_address", "business_scope", "establishment_date", "status",
        "registration_authority", "tax_credit_rating",
    ),
    "certificates": (
        "licence_type_code", "licence_number", "holder_id", "holder_type", "issuer_uscc",
        "issue_date", "valid_from", "valid_to", "status", "attributes",
    ),
}  # fmt: skip


def _stamp_columns(table: str) -> tuple[str, ...]:
    """One ALTER per column: SQLite takes a single ADD COLUMN per statement."""
    stamps = [
        f"ALTER TABLE {table} ADD COLUMN {n}__{suffix} {{{kind}}}"
        for n in (*_FIELDS_V1[table], "_record", "_key")
        for suffix, kind in (("seq", "bigint"), ("src", "text"))
    ]
    return (*stamps, f"ALTER TABLE {table} ADD COLUMN _stale {{bigint}} NOT NULL DEFAULT 0")


def _split_provenance_sqlite(table: str) -> str:
    def part(name: str, i: int) -> str:
        return f"json_extract(provenance, '$.{name}[{i}]')"

    sets = ", ".join(
        f"{n}__seq = {part(n, 1)}, {n}__src = "
        + " || ' ' || ".join(part(n, i) for i in (0, 2, 3, 4))
        for n in (*_FIELDS_V1[table], "_record")
    )
    return f"UPDATE {table} SET {sets} WHERE provenance <> '{{}}'"


def _split_provenance_postgresql(table: str) -> str:
    def part(name: str, i: int) -> str:
        return f"(provenance -> '{name}' ->> {i})"

    sets = ", ".join(
        f"{n}__seq = {part(n, 1)}::bigint, {n}__src = "
        + " || ' ' || ".join(part(n, i) for i in (0, 2, 3, 4))
        for n in (*_FIELDS_V1[table], "_record")
    )
    return f"UPDATE {table} SET {sets} WHERE provenance::text <> '{{}}'"


_PROVENANCE_PER_FIELD = Migration(
    3,
    "field provenance as per-field columns (sequence, stamp): the merge runs in the upsert",
    tuple(s for table in _ENTITY_TABLES.values() for s in _stamp_columns(table)),
    {
        dialect: tuple(
            s
            for table in _ENTITY_TABLES.values()
            for s in (split(table), f"ALTER TABLE {table} DROP COLUMN provenance")
        )
        for dialect, split in (
            ("sqlite", _split_provenance_sqlite),
            ("postgresql", _split_provenance_postgresql),
        )
    },
)


UNHEX_FUNCTION = "govbus_unhex"
"""SQLite 3.40 has no unhex(): the store registers this one-argument function (hex → blob)
on its connection before migrating."""

_EVENT_IDS_AS_BLOBS = Migration(
    4,
    "SQLite: processed event ids as 16-byte blobs in a WITHOUT ROWID table (one b-tree)",
    (),
    {
        "sqlite": (
            "CREATE TABLE processed_events_v4 (event_id BLOB PRIMARY KEY) WITHOUT ROWID",
            f"INSERT INTO processed_events_v4 SELECT {UNHEX_FUNCTION}(event_id) "
            "FROM processed_events",
            "DROP TABLE processed_events",
            "ALTER TABLE processed_events_v4 RENAME TO processed_events",
        ),
    },
)


_TOPIC_IDS = Migration(
    5,
    "the Kafka topic id each group's offsets were taken from (a recreated topic is another log)",
    (
        """CREATE TABLE applied_topics (
    consumer_group {text} NOT NULL,
    topic {text} NOT NULL,
    topic_id {text} NOT NULL,
    PRIMARY KEY (consumer_group, topic))""",
    ),
)


_DEDUP_CLAIM_TIME = Migration(
    6,
    "processed events keep their claim time: ids older than the retention are pruned",
    (),
    {
        # SQLite: a rowid table (rows in claim order, so the oldest are at its head and
        # pruning needs no index on the time: a second index more than doubled the claim's
        # cost) with the ids in a unique index; the time as integer µs since the epoch. Ids
        # claimed before this migration count as claimed now: kept a full window.
        "sqlite": (
            "CREATE TABLE processed_events_v6 ("
            "event_id BLOB NOT NULL UNIQUE, processed_at INTEGER NOT NULL)",
            "INSERT INTO processed_events_v6 (event_id, processed_at) SELECT event_id, "
            "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER) "
            "FROM processed_events",
            "DROP TABLE processed_events",
            "ALTER TABLE processed_events_v6 RENAME TO processed_events",
        ),
        # PostgreSQL: the heap is in claim order too, but a DELETE wants an index to find
        # the oldest; on a time that only grows it is appended to, cheap.
        "postgresql": (
            "ALTER TABLE processed_events ADD COLUMN processed_at timestamptz NOT NULL "
            "DEFAULT now()",
            "CREATE INDEX processed_events_at ON processed_events (processed_at)",
        ),
    },
)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "current state, field provenance, offsets, processed events, quarantine",
        (
            """CREATE TABLE persons (
    entity_key {text} PRIMARY KEY,
    name {text}, sex {text}, birth_date {date}, ethnicity {text},
    household_address {text}, residence_address {text}, marital_status {text},
    education {text}, phone {text}, death_date {date},"""
            + _ENTITY_META
            + ")",
            """CREATE TABLE legal_entities (
    entity_key {text} PRIMARY KEY,
    name {text}, entity_type {text}, legal_representative {text},
    registered_capital {numeric}, registered_address {text}, business_scope {text},
    establishment_date {date}, status {text}, registration_authority {text},
    tax_credit_rating {text},"""
            + _ENTITY_META
            + ")",
            """CREATE TABLE certificates (
    entity_key {text} PRIMARY KEY,
    licence_type_code {text}, licence_number {text}, holder_id {text}, holder_type {text},
    issuer_uscc {text}, issue_date {date}, valid_from {date}, valid_to {date},
    status {text}, attributes {json},
    holder_known {bool} NOT NULL DEFAULT {false},"""
            + _ENTITY_META
            + ")",
            "CREATE INDEX certificates_holder ON certificates (holder_type, holder_id)",
            """CREATE TABLE field_provenance (
    entity_type {text} NOT NULL,
    entity_key {text} NOT NULL,
    field {text} NOT NULL,
    source_department {text} NOT NULL,
    event_id {uuid} NOT NULL,
    source_sequence {bigint} NOT NULL,
    occurred_at {ts} NOT NULL,
    applied_at {ts} NOT NULL,
    PRIMARY KEY (entity_type, entity_key, field))""",
            """CREATE TABLE applied_offsets (
    consumer_group {text} NOT NULL,
    topic {text} NOT NULL,
    kafka_partition {bigint} NOT NULL,
    next_offset {bigint} NOT NULL,
    updated_at {ts} NOT NULL,
    PRIMARY KEY (consumer_group, topic, kafka_partition))""",
            "CREATE TABLE processed_events (event_id {uuid} PRIMARY KEY)",
            """CREATE TABLE quarantine (
    id {id_pk},
    topic {text} NOT NULL,
    kafka_partition {bigint} NOT NULL,
    kafka_offset {bigint} NOT NULL,
    error_code {text} NOT NULL,
    reason {text} NOT NULL,
    headers {json} NOT NULL,
    record_key {bytes},
    record_value {bytes},
    quarantined_at {ts} NOT NULL)""",
        ),
    ),
    _PROVENANCE_WITH_RECORD,
    _PROVENANCE_PER_FIELD,
    _EVENT_IDS_AS_BLOBS,
    _TOPIC_IDS,
    _DEDUP_CLAIM_TIME,
)

STATE_TABLES = (
    "persons",
    "legal_entities",
    "certificates",
    "applied_offsets",
    "applied_topics",
    "processed_events",
    "quarantine",
)
"""Every table a rebuild empties (everything but `schema_migrations`)."""

SCHEMA_MIGRATIONS_DDL = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version {bigint} PRIMARY KEY,
    description {text} NOT NULL,
    applied_at {ts} NOT NULL)"""
