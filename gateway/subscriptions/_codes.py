"""The refusals of the subscription API, each with its machine-readable code.

Messages name resources and field names (catalog terms), never a submitted free text.
"""

from __future__ import annotations

from collections.abc import Iterable

from govbus.gateway._errors import ApiError
from govbus.gateway.subscriptions._states import InvalidTransition


def _names(fields: Iterable[str]) -> str:
    return ", ".join(sorted(fields))


def unknown_resource(code: str) -> ApiError:
    return ApiError(422, "UNKNOWN_RESOURCE", f"the catalog has no resource {code}")


def field_not_shared(resource: str, fields: Iterable[str]) -> ApiError:
    return ApiError(
        422, "FIELD_NOT_SHARED", f"{resource}: not shared, cannot be granted: {_names(fields)}"
    )


def unknown_field(resource: str, fields: Iterable[str]) -> ApiError:
    return ApiError(422, "UNKNOWN_FIELD", f"{resource} has no field: {_names(fields)}")


def fields_not_requested(fields: Iterable[str]) -> ApiError:
    return ApiError(
        422,
        "FIELDS_NOT_REQUESTED",
        f"an approval cannot add fields the request did not ask for: {_names(fields)}",
    )


def invalid_expiry() -> ApiError:
    return ApiError(422, "INVALID_EXPIRY", "expires_on must be today or later (China time)")


def reason_required() -> ApiError:
    return ApiError(422, "REASON_REQUIRED", "a rejection or revocation must say why")


def no_department(principal: str) -> ApiError:
    return ApiError(403, "NO_DEPARTMENT", f"principal {principal} belongs to no department")


def not_found(subscription_id: str) -> ApiError:
    # Same answer for an id that does not exist and one the caller may not see.
    return ApiError(404, "SUBSCRIPTION_NOT_FOUND", "no such subscription")


def may_not_decide(principal: str) -> ApiError:
    return ApiError(
        403,
        "FORBIDDEN",
        f"principal {principal} may not decide this request: the resource's provider decides, "
        "or the admin once the request is overdue",
    )


def may_not_revoke(principal: str) -> ApiError:
    return ApiError(
        403,
        "FORBIDDEN",
        f"principal {principal} may not revoke this grant: its provider or the admin may",
    )


def invalid_transition(exc: InvalidTransition) -> ApiError:
    return ApiError(409, "INVALID_TRANSITION", str(exc))
