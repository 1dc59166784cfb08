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


# Messages never echo the subject or version of the path: a subject may be named after a
# personal value (an identity number), and the caller knows what it asked for.


def subject_not_found() -> ApiError:
    return ApiError(404, SUBJECT_NOT_FOUND, "Subject not found.")


def version_not_found() -> ApiError:
    return ApiError(404, VERSION_NOT_FOUND, "Version not found for this subject.")


def schema_not_found(what: str) -> ApiError:
    return ApiError(404, SCHEMA_NOT_FOUND, f"Schema {what} not found.")


def invalid_schema(reason: str) -> ApiError:
    return ApiError(422, INVALID_SCHEMA, f"Invalid schema: {reason}")


def invalid_version() -> ApiError:
    return ApiError(
        422,
        INVALID_VERSION,
        "The specified version is not a valid version id: use ASCII digits "
        "(1 to 2147483647), -1 or 'latest'.",
    )


def incompatible(problems: list[str]) -> ApiError:
    return ApiError(
        409,
        INCOMPATIBLE_SCHEMA,
        "Schema being registered is incompatible with an earlier schema for this subject: "
        + "; ".join(problems),
    )


def invalid_level(valid: list[str]) -> ApiError:
    return ApiError(
        422,
        INVALID_COMPATIBILITY_LEVEL,
        f"Invalid compatibility level (valid: {', '.join(valid)}).",
    )


def subject_config_not_found() -> ApiError:
    return ApiError(
        404,
        SUBJECT_LEVEL_CONFIG_NOT_FOUND,
        "Subject does not have subject-level compatibility configured",
    )


def invalid_subject() -> ApiError:
    return ApiError(
        422,
        INVALID_SUBJECT,
        "Subject names are 1 to 255 characters with no control, format (zero-width, "
        "bidirectional), separator-line or unassigned characters.",
    )
