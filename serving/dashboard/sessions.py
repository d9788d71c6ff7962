"""Login sessions and CSRF tokens for the dashboard's people (scripts send the Bearer key).

A session cookie is ``DIGEST.EXPIRES.SIGNATURE``: the SHA-256 digest of the key that logged in
(never the key), when it ends, and an HMAC of both under the server's secret. It is checked
against the configured digests on every request, so removing a key ends its sessions. The
login form is protected by a double-submit token (a random value in a SameSite=Strict cookie
and in the form); a logged-in form (logout) carries an HMAC of the session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SESSION_COOKIE = "nps_risk_session"
LOGIN_CSRF_COOKIE = "nps_risk_login_csrf"


def _sign(secret: bytes, purpose: str, body: str) -> str:
    return hmac.new(secret, f"{purpose}|{body}".encode(), hashlib.sha256).hexdigest()


def issue_session(secret: bytes, key_digest: str, now: float, hours: float) -> str:
    """A signed session for the key whose digest is ``key_digest``, ending ``hours`` on."""
    body = f"{key_digest}.{int(now + hours * 3600)}"
    return f"{body}.{_sign(secret, 'session', body)}"


def session_digest(
    secret: bytes, token: str | None, now: float, known: frozenset[str]
) -> str | None:
    """The key digest of a valid, unexpired session whose key is still configured; else None."""
    if not token or token.count(".") != 2:
        return None
    digest, expires, signature = token.split(".")
    if not hmac.compare_digest(signature, _sign(secret, "session", f"{digest}.{expires}")):
        return None
    if not expires.isdigit() or int(expires) <= now or digest not in known:
        return None
    return digest


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


def session_csrf(secret: bytes, session: str) -> str:
    """The token a logged-in form must carry: bound to the session, so another site cannot
    know it."""
    return _sign(secret, "csrf", session)


def same_token(given: str | None, expected: str | None) -> bool:
    """Both present and equal, compared in constant time."""
    return bool(given) and bool(expected) and hmac.compare_digest(str(given), str(expected))
