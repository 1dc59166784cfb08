"""The gateway's principals (departments, services, operators, admins), tokens and SCRAM users."""

from govbus.gateway.principals._models import (
    CreatedPrincipal,
    IssuedToken,
    Kind,
    PrincipalRecord,
    PrincipalRequest,
    TokenRecord,
)
from govbus.gateway.principals._router import principals_router
from govbus.gateway.principals._scram import KafkaUsers, ScramUsers
from govbus.gateway.principals._secrets import TokenKeyError
from govbus.gateway.principals._service import AuthResult, PrincipalService
from govbus.gateway.principals._setup import credentials_seed, principal_service, token_key
from govbus.gateway.principals._store import PrincipalStore

__all__ = [
    "AuthResult",
    "CreatedPrincipal",
    "IssuedToken",
    "KafkaUsers",
    "Kind",
    "PrincipalRecord",
    "PrincipalRequest",
    "PrincipalService",
    "PrincipalStore",
    "ScramUsers",
    "TokenKeyError",
    "TokenRecord",
    "credentials_seed",
    "principal_service",
    "principals_router",
    "token_key",
]
