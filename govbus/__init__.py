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
from govbus._catalog_export import (
    CatalogEntry,
    FieldEntry,
    MaskEntry,
    catalog_entries,
    catalog_entry,
    export_catalog,
)
from govbus._catalog_metadata import Category, CoreMetadata, Service
from govbus._certificate_key import CertificateKey
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
from govbus._checkout import checkout_root
from govbus._compat import (
    CompatibilityLevel,
    SchemaDefinitionError,
    check_compatibility,
    normalise,
)
from govbus._contract import Contract, load_contract
from govbus._envelope import (
    CloudEventAttributes,
    check_cloudevent_headers,
    cloudevent_headers,
    event_type,
    parse_cloudevent_headers,
)
from govbus._errors import ErrorCode, GovbusError, error_location, schema_mismatch
from govbus._gc import cyclic_gc_paused
from govbus._identifiers import (
    is_valid_citizen_id,
    is_valid_uscc,
    mask,
    pseudonymize,
    today_in_china,
    uscc_check_character,
    validate_citizen_id,
    validate_uscc,
)
from govbus._kafka import (
    admin_config,
    client_config,
    consumer_config,
    ensure_topics,
    producer_config,
    require_broker,
)
from govbus._local_env import (
    find_local_env,
    local_env_target,
    read_local_env,
    write_local_env,
)
from govbus._logging import configure_logging, kafka_logger, scrub_text
from govbus._native import (
    FastRoute,
    MakeRecord,
    native_available,
    native_batch_tracker,
    native_fast_path,
    native_module,
)
from govbus._schemas import SchemaRepository, SchemaVersion
from govbus._serde import (
    LocalSchemaResolver,
    RegistrySchemaResolver,
    SchemaResolver,
    decode_confluent,
    encode_confluent,
    read_schema_id,
)
from govbus._settings import SettingOrigin, Settings, env_name, get_settings
from govbus._sharing import (
    VIEW_TOPIC_PREFIX,
    Disclosure,
    DisclosureKind,
    GrantPolicy,
    RequestOutcome,
    RequestVerdict,
    field_disclosure,
    grant_disclosure,
    request_verdict,
    view_topic_name,
)
from govbus._storable_text import check_storable_text, unstorable_part
from govbus._topics import catalog_topics, ensure_catalog_topics
from govbus._urls import redact_url
from govbus._validation import (
    check_authority,
    check_identifiers,
    event_problems,
    resource_for_event,
    validate_event,
)

__all__ = [
    "EVENT_TYPES",
    "VIEW_TOPIC_PREFIX",
    "Catalog",
    "CatalogEntry",
    "Category",
    "CertificateChanged",
    "CertificateData",
    "CertificateKey",
    "ChangeEvent",
    "CloudEventAttributes",
    "CompatibilityLevel",
    "Contract",
    "CoreMetadata",
    "Department",
    "Disclosure",
    "DisclosureKind",
    "EntityKind",
    "ErrorCode",
    "FastRoute",
    "FieldEntry",
    "FieldSpec",
    "GovbusError",
    "GrantPolicy",
    "LegalEntityChanged",
    "LegalEntityData",
    "LocalSchemaResolver",
    "MakeRecord",
    "MaskEntry",
    "MaskRule",
    "PersonChanged",
    "PersonData",
    "RegistrySchemaResolver",
    "RequestOutcome",
    "RequestVerdict",
    "Resource",
    "SchemaDefinitionError",
    "SchemaRepository",
    "SchemaResolver",
    "SchemaVersion",
    "Sensitivity",
    "Service",
    "SettingOrigin",
    "Settings",
    "SharingType",
    "address_code_spans",
    "admin_config",
    "catalog_entries",
    "catalog_entry",
    "catalog_topics",
    "certificate_key",
    "check_authority",
    "check_cloudevent_headers",
    "check_compatibility",
    "check_identifiers",
    "check_storable_text",
    "checkout_root",
    "client_config",
    "cloudevent_headers",
    "configure_logging",
    "consumer_config",
    "cyclic_gc_paused",
    "decode_confluent",
    "encode_confluent",
    "ensure_catalog_topics",
    "ensure_topics",
    "env_name",
    "error_location",
    "event_problems",
    "event_type",
    "export_catalog",
    "field_disclosure",
    "find_local_env",
    "get_settings",
    "grant_disclosure",
    "is_valid_citizen_id",
    "is_valid_uscc",
    "kafka_logger",
    "load_catalog",
    "load_contract",
    "local_env_target",
    "mask",
    "native_available",
    "native_batch_tracker",
    "native_fast_path",
    "native_module",
    "normalise",
    "parse_cloudevent_headers",
    "producer_config",
    "pseudonymize",
    "read_local_env",
    "read_schema_id",
    "redact_url",
    "request_verdict",
    "require_broker",
    "resource_for_event",
    "schema_mismatch",
    "scrub_text",
    "today_in_china",
    "unstorable_part",
    "uscc_check_character",
    "validate_citizen_id",
    "validate_event",
    "validate_uscc",
    "view_topic_name",
    "write_local_env",
]
