"""The refusals of the lookup API. Messages name resources, fields and claim names (catalog
terms) and positions in a body, never a submitted key or value."""

from __future__ import annotations

from collections.abc import Iterable

from govbus.gateway._errors import ApiError

# One body for "no such record" and "not yours to see": a lookup must not tell them apart.
NOT_FOUND_MESSAGE = "no such record, or not visible to this principal"


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", NOT_FOUND_MESSAGE)


def invalid_key(where: str, what: str) -> ApiError:
    return ApiError(422, "INVALID_IDENTIFIER", f"{where}: not a valid {what}")


def batch_too_large(count: int, limit: int) -> ApiError:
    return ApiError(422, "BATCH_TOO_LARGE", f"{count} keys; at most {limit} per request")


def unknown_claims(resource: str, names: Iterable[str]) -> ApiError:
    return ApiError(422, "UNKNOWN_CLAIM", f"{resource} has no claim: {', '.join(sorted(names))}")


def bad_claim_value(name: str, expected: str) -> ApiError:
    return ApiError(422, "INVALID_CLAIM", f"claim {name}: the value must be {expected}")


def claims_not_granted(resource: str, fields: Iterable[str]) -> ApiError:
    return ApiError(
        403,
        "CLAIM_NOT_GRANTED",
        f"no lookup or verify grant of {resource} covers: {', '.join(sorted(fields))}",
    )


def no_certificate_grant() -> ApiError:
    return ApiError(
        403,
        "CLAIM_NOT_GRANTED",
        "no lookup or verify grant of a certificate resource covers status, valid_from "
        "and valid_to",
    )


def bad_certificate_check() -> ApiError:
    return ApiError(
        422,
        "INVALID_REQUEST",
        "body: give number, or licence_type with number, or licence_type with holder_id",
    )


def store_unavailable() -> ApiError:
    return ApiError(503, "STORE_UNAVAILABLE", "the base store cannot be read now; retry")
