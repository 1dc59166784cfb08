"""Confluent Schema Registry error codes, which confluent-kafka's client understands."""

from __future__ import annotations

from govbus.gateway._errors import ApiError

SUBJECT_NOT_FOUND = 40401
VERSION_NOT_FOUND = 40402
SCHEMA_NOT_FOUND = 40403
SUBJECT_LEVEL_CONFIG_NOT_FOUND = 40408
INCOMPATIBLE_SCHEMA = 409
INVALID_SCHEMA = 42201
INVALID_VERSION = 42202
INVALID_COMPATIBILITY_LEVEL = 42203
INVALID_SUBJECT = 42208
STORE_ERROR = 50001


def subject_not_found(subject: str) -> ApiError:
    return ApiError(404, SUBJECT_NOT_FOUND, f"Subject '{subject}' not found.")


def version_not_found(subject: str, version: int) -> ApiError:
    return ApiError(404, VERSION_NOT_FOUND, f"Version {version} of subject '{subject}' not found.")


def schema_not_found(what: str) -> ApiError:
    return ApiError(404, SCHEMA_NOT_FOUND, f"Schema {what} not found.")


def invalid_schema(subject: str, reason: str) -> ApiError:
    return ApiError(422, INVALID_SCHEMA, f"Invalid schema for subject '{subject}': {reason}")


def invalid_version(version: str) -> ApiError:
    return ApiError(
        422, INVALID_VERSION, f"The specified version '{version[:40]}' is not a valid version id."
    )


def incompatible(subject: str, problems: list[str]) -> ApiError:
    return ApiError(
        409,
        INCOMPATIBLE_SCHEMA,
        f"Schema being registered is incompatible with an earlier schema for subject "
        f"'{subject}': " + "; ".join(problems),
    )


def invalid_level(raw: str) -> ApiError:
    return ApiError(422, INVALID_COMPATIBILITY_LEVEL, f"Invalid compatibility level {raw[:40]!r}.")


def subject_config_not_found(subject: str) -> ApiError:
    return ApiError(
        404,
        SUBJECT_LEVEL_CONFIG_NOT_FOUND,
        f"Subject '{subject}' does not have subject-level compatibility configured",
    )


def invalid_subject() -> ApiError:
    return ApiError(
        422, INVALID_SUBJECT, "Subject names may not contain control characters or exceed 255."
    )
