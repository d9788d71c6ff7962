"""Session cookies and CSRF tokens: only the server's own, unexpired, for a key still
configured; any change to a token refuses it."""

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from serving.dashboard.sessions import (
    issue_session,
    new_login_token,
    same_token,
    session_csrf,
    session_digest,
)

SECRET = b"s" * 32
KEY = hashlib.sha256(b"a key").hexdigest()
KNOWN = frozenset({KEY})
NOW = 1_800_000_000.0


def test_a_fresh_session_names_its_key_until_it_ends():
    token = issue_session(SECRET, KEY, NOW, hours=8)
    assert session_digest(SECRET, token, NOW + 60, KNOWN) == KEY
    assert session_digest(SECRET, token, NOW + 8 * 3600 + 1, KNOWN) is None  # expired
    assert session_digest(SECRET, token, NOW, frozenset()) is None  # the key was removed
    assert session_digest(b"t" * 32, token, NOW, KNOWN) is None  # another server's secret
    assert session_digest(SECRET, None, NOW, KNOWN) is None
    assert "a key" not in token  # the digest, never the key


@given(position=st.integers(min_value=0), char=st.sampled_from("0123456789abcdef.x"))
def test_any_change_to_a_token_refuses_it(position, char):
    token = issue_session(SECRET, KEY, NOW, hours=8)
    i = position % len(token)
    forged = token[:i] + char + token[i + 1 :]
    if forged != token:
        assert session_digest(SECRET, forged, NOW, KNOWN) is None


@given(hours=st.floats(min_value=1.0, max_value=1000.0))
def test_an_expiry_pushed_later_by_hand_is_refused(hours):
    digest, expires, signature = issue_session(SECRET, KEY, NOW, hours=1).split(".")
    later = f"{digest}.{int(expires) + int(hours * 3600)}.{signature}"
    assert session_digest(SECRET, later, NOW, KNOWN) is None


def test_csrf_tokens_bind_to_their_session_and_compare_strictly():
    one, two = (issue_session(SECRET, KEY, NOW + i, hours=8) for i in (0, 1))
    assert session_csrf(SECRET, one) != session_csrf(SECRET, two)
    assert same_token(session_csrf(SECRET, one), session_csrf(SECRET, one))
    assert not same_token("", "") and not same_token(None, None) and not same_token("a", None)
    assert new_login_token() != new_login_token()
