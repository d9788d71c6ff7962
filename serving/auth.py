"""API keys: ``Authorization: Bearer KEY``; the server keeps only SHA-256 digests of keys
(NPS_RISK_API_KEYS, NPS_RISK_ADMIN_KEYS) and compares them in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

bearer = HTTPBearer(auto_error=False, description="an API key issued with `nps-risk keygen`")


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh key and the digest to configure on the server."""
    key = "npsr_" + secrets.token_urlsafe(32)
    return key, digest(key)


def _matches(key: str, digests: frozenset[str]) -> bool:
    given = digest(key)
    found = False
    for known in digests:  # no early exit: time does not depend on which digest matched
        found |= hmac.compare_digest(given, known)
    return found


def _credentials(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send 'Authorization: Bearer KEY'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials.credentials


async def require_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str:
    key = _credentials(request, credentials)
    settings = request.app.state.settings
    if not (
        _matches(key, settings.key_digests()) or _matches(key, settings.key_digests(admin=True))
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown API key", headers={"WWW-Authenticate": "Bearer"}
        )
    return key


async def require_admin(request: Request, key: Annotated[str, Depends(require_key)]) -> str:
    if not _matches(key, request.app.state.settings.key_digests(admin=True)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this route needs an admin key")
    return key


ApiKey = Annotated[str, Depends(require_key)]
AdminKey = Annotated[str, Depends(require_admin)]
