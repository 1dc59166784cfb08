"""The admin API over principals and tokens: `/v1/principals`, `/v1/tokens` (role admin).

Secrets (tokens, SCRAM passwords) appear in the answer that makes them, and never again.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, status

from govbus.gateway._auth import Principal, current_principal, require_role
from govbus.gateway._errors import error_responses
from govbus.gateway.principals._models import (
    CreatedPrincipal,
    IssuedToken,
    PrincipalRecord,
    PrincipalRequest,
    TokenRecord,
    TokenRequest,
)
from govbus.gateway.principals._service import PrincipalService

# Admin routes: 403 without the role, 409 for a disabled or existing principal.
principals_router = APIRouter(
    prefix="/v1", tags=["principals"], responses=error_responses(403, 404, 409)
)
admin = Depends(require_role("admin"))


def _service(request: Request) -> PrincipalService:
    service: PrincipalService = request.app.state.principals
    return service


@principals_router.get("/me")
def who_am_i(principal: Principal = Depends(current_principal)) -> Principal:  # noqa: B008
    return principal


@principals_router.get("/principals")
def list_principals(request: Request, _: Principal = admin) -> list[PrincipalRecord]:
    return _service(request).principals()


@principals_router.post("/principals", status_code=status.HTTP_201_CREATED)
def create_principal(
    body: PrincipalRequest, request: Request, caller: Principal = admin
) -> CreatedPrincipal:
    return _service(request).create(
        caller.name, body.name, body.roles, body.department, body.kind, body.kafka
    )


@principals_router.get("/principals/{name}")
def get_principal(name: str, request: Request, _: Principal = admin) -> PrincipalRecord:
    return _service(request).get(name)


@principals_router.post("/principals/{name}/disable")
def disable_principal(name: str, request: Request, caller: Principal = admin) -> PrincipalRecord:
    return _service(request).disable(caller.name, name)


@principals_router.delete("/principals/{name}", status_code=status.HTTP_204_NO_CONTENT)
def remove_principal(name: str, request: Request, caller: Principal = admin) -> None:
    _service(request).remove(caller.name, name)


@principals_router.post("/principals/{name}/kafka-password")
def rotate_kafka_password(name: str, request: Request, caller: Principal = admin) -> dict[str, str]:
    service = _service(request)
    password = service.rotate_kafka_password(caller.name, name)
    return {"kafka_user": service.kafka_user(name), "kafka_password": password}


@principals_router.get("/principals/{name}/tokens")
def list_tokens(name: str, request: Request, _: Principal = admin) -> list[TokenRecord]:
    return _service(request).tokens(name)


@principals_router.post("/principals/{name}/tokens", status_code=status.HTTP_201_CREATED)
def create_token(
    name: str, body: TokenRequest, request: Request, caller: Principal = admin
) -> IssuedToken:
    return _service(request).create_token(caller.name, name, body.expires_at)


@principals_router.post("/tokens/{token_id}/rotate", status_code=status.HTTP_201_CREATED)
def rotate_token(
    token_id: str, body: TokenRequest, request: Request, caller: Principal = admin
) -> IssuedToken:
    return _service(request).rotate_token(caller.name, token_id, body.expires_at)


@principals_router.delete("/tokens/{token_id}")
def revoke_token(token_id: str, request: Request, caller: Principal = admin) -> TokenRecord:
    return _service(request).revoke_token(caller.name, token_id)
