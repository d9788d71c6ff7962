"""Credentials are masked in any text and in log records, tracebacks included."""

import io
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nps_core.redaction import RedactingFilter, redact, redact_logs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://u:secret@127.0.0.1:1/db", "postgresql://u:***@127.0.0.1:1/db"),
        (
            "at postgresql+psycopg://admin:p@ss:w0rd@db.example:5432/mlflow, refused",
            "at postgresql+psycopg://admin:***@db.example:5432/mlflow, refused",
        ),
        ("https://ghp_TOKEN@github.example/org", "https://***@github.example/org"),
        ("mysql://u:@host/db", "mysql://u:***@host/db"),
        ("'host=db user=u password=secret dbname=x'", "'host=db user=u password=*** dbname=x'"),
        ("http://host/api?token=abc123&x=1", "http://host/api?token=***&x=1"),
        # nothing to hide: left exactly as it was
        ("sqlite:////tmp/mlruns/mlflow.db", "sqlite:////tmp/mlruns/mlflow.db"),
        ("http://127.0.0.1:5000/api/2.0", "http://127.0.0.1:5000/api/2.0"),
        ("http://host/db?next=a@b", "http://host/db?next=a@b"),
        ("write to ops@example.com", "write to ops@example.com"),
    ],
)
def test_credentials_in_uris_and_pairs_are_masked(text, expected):
    assert redact(text) == expected


@given(
    password=st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Cc"), blacklist_characters="/"),
        min_size=4,
    ).filter(lambda p: p.strip() == p and "***" not in p),
    user=st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
)
def test_no_password_survives_in_a_uri(password, user):
    for template in ("postgresql://{u}:{p}@h:5432/db", "error at 'mysql://{u}:{p}@h' (refused)"):
        text = template.format(u=user, p=password)
        masked = redact(text)
        assert password not in masked.replace(f"{user}:***@", ""), masked


def test_the_filter_masks_messages_arguments_and_tracebacks():
    logger = logging.getLogger("nps_risk.test_redaction")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    try:
        redact_logs("nps_risk.test_redaction")
        redact_logs("nps_risk.test_redaction")  # idempotent
        assert sum(isinstance(f, RedactingFilter) for f in logger.filters) == 1
        logger.warning("store at %s", "postgresql://u:secret@h/db")
        try:
            raise ConnectionError("cannot reach postgresql://u:secret@h/db")
        except ConnectionError:
            logger.exception("load failed")
        child = logging.getLogger("nps_risk.test_redaction.child")  # through the handler
        child.error("child says mysql://root:secret@h/x")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "secret" not in text
    assert "store at postgresql://u:***@h/db" in text
    assert "ConnectionError: cannot reach postgresql://u:***@h/db" in text  # the traceback
    assert "root:***@h/x" in text and "ConnectionError" in text
