"""API keys: ``Authorization: Bearer KEY``; the server keeps only SHA-256 digests of keys
(NPS_RISK_API_KEYS, NPS_RISK_ADMIN_KEYS) and compares them in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

bearer = HTTPBearer(auto_error=False, description="an API key issued with `nps-risk keygen`")


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh key and the digest to configure on the server."""
    key = "npsr_" + secrets.token_urlsafe(32)
    return key, digest(key)


def _matches(given: str, digests: frozenset[str]) -> bool:
    found = False
    for known in digests:  # no early exit: time does not depend on which digest matched
        found |= hmac.compare_digest(given, known)
    return found


def _bearer_key(authorization: str | None) -> str:
    """The key of ``Authorization: Bearer KEY``, parsed as FastAPI's ``HTTPBearer`` does."""
    scheme, key = get_authorization_scheme_param(authorization)
    if scheme.lower() != "bearer" or not key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send 'Authorization: Bearer KEY'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return key


def authorize(request: Request, *, admin: bool = False) -> str:
    """The caller's key if it is a known one (an admin key for ``admin``); else 401 / 403.

    The one check behind every /v1 route: the dependencies below call it, and the hot
    route (/v1/predict) calls it directly, without FastAPI's per-request dependency solving.
    """
    key = _bearer_key(request.headers.get("authorization"))
    settings = request.app.state.settings
    given = digest(key)
    is_admin = _matches(given, settings.key_digests(admin=True))
    if not (_matches(given, settings.key_digests()) or is_admin):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown API key", headers={"WWW-Authenticate": "Bearer"}
        )
    if admin and not is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this route needs an admin key")
    return key


# ``bearer`` declares the scheme in OpenAPI; ``authorize`` reads the header itself.
Documented = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def require_key(request: Request, _documented: Documented) -> str:
    return authorize(request)


async def require_admin(request: Request, _documented: Documented) -> str:
    return authorize(request, admin=True)


ApiKey = Annotated[str, Depends(require_key)]
AdminKey = Annotated[str, Depends(require_admin)]
# for a route that calls ``authorize`` itself: the same security entry in its OpenAPI
BEARER_DOC: dict[str, Any] = {"security": [{"HTTPBearer": []}]}
