"""govbus: the shared core of the government data exchange bus.

The public API is re-exported here; implementation lives in private modules.
"""

from govbus._address_codes import address_code_spans
from govbus._catalog import (
    Catalog,
    Department,
    EntityKind,
    FieldSpec,
    MaskRule,
    Resource,
    Sensitivity,
    SharingType,
    load_catalog,
)
from govbus._changes import (
    EVENT_TYPES,
    CertificateChanged,
    CertificateData,
    ChangeEvent,
    LegalEntityChanged,
    LegalEntityData,
    PersonChanged,
    PersonData,
    certificate_key,
)
from govbus._contract import Contract, load_contract
from govbus._envelope import CloudEventAttributes, cloudevent_headers, parse_cloudevent_headers
from govbus._errors import ErrorCode, GovbusError, error_location, schema_mismatch
from govbus._identifiers import (
    is_valid_citizen_id,
    is_valid_uscc,
    mask,
    pseudonymize,
    today_in_china,
    validate_citizen_id,
    validate_uscc,
)
from govbus._kafka import (
    admin_config,
    client_config,
    consumer_config,
    ensure_topics,
    producer_config,
)
from govbus._logging import configure_logging, scrub_text
from govbus._native import MakeRecord, native_available
from govbus._schemas import SchemaRepository, SchemaVersion
from govbus._serde import (
    LocalSchemaResolver,
    RegistrySchemaResolver,
    SchemaResolver,
    decode_confluent,
    encode_confluent,
    read_schema_id,
)
from govbus._settings import Settings, get_settings
from govbus._storable_text import check_storable_text, unstorable_part
from govbus._topics import catalog_topics, ensure_catalog_topics
from govbus._validation import (
    check_authority,
    check_identifiers,
    resource_for_event,
    validate_event,
)

__all__ = [
    "EVENT_TYPES",
    "Catalog",
    "CertificateChanged",
    "CertificateData",
    "ChangeEvent",
    "CloudEventAttributes",
    "Contract",
    "Department",
    "EntityKind",
    "ErrorCode",
    "FieldSpec",
    "GovbusError",
    "LegalEntityChanged",
    "LegalEntityData",
    "LocalSchemaResolver",
    "MakeRecord",
    "MaskRule",
    "PersonChanged",
    "PersonData",
    "RegistrySchemaResolver",
    "Resource",
    "SchemaRepository",
    "SchemaResolver",
    "SchemaVersion",
    "Sensitivity",
    "Settings",
    "SharingType",
    "address_code_spans",
    "admin_config",
    "catalog_topics",
    "certificate_key",
    "check_authority",
    "check_identifiers",
    "check_storable_text",
    "client_config",
    "cloudevent_headers",
    "configure_logging",
    "consumer_config",
    "decode_confluent",
    "encode_confluent",
    "ensure_catalog_topics",
    "ensure_topics",
    "error_location",
    "get_settings",
    "is_valid_citizen_id",
    "is_valid_uscc",
    "load_catalog",
    "load_contract",
    "mask",
    "native_available",
    "parse_cloudevent_headers",
    "producer_config",
    "pseudonymize",
    "read_schema_id",
    "resource_for_event",
    "schema_mismatch",
    "scrub_text",
    "today_in_china",
    "unstorable_part",
    "validate_citizen_id",
    "validate_event",
    "validate_uscc",
]
