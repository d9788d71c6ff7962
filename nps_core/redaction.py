"""Credentials never leave the process: ``redact`` masks them in any text, ``RedactingFilter``
in log records.

One function for every edge (HTTP answers, CLI errors, log lines, exception messages), so a
URI such as ``postgresql://user:password@host/db`` reads ``postgresql://user:***@host/db``
wherever it is shown. A URI carrying a lone token (``https://TOKEN@host``) loses the token;
``password=...`` pairs (libpq connection strings, query strings) lose the value.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

MASK = "***"

# scheme://userinfo@ ; the userinfo runs to the last "@" before the host (a password may hold
# an unescaped "@"), never across "/" or whitespace, so "host/db?x=a@b" is left alone
_USERINFO = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^\s/:@]*)(?P<password>:[^\s/]*)?@"
)
_PAIR = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd|secret|token|api_key|apikey)\s*=\s*)"
    r"(?P<value>'[^']*'|\"[^\"]*\"|[^\s&;,'\")]+)",
    re.IGNORECASE,
)


def _userinfo(match: re.Match[str]) -> str:
    if match["password"] is None:  # a lone user part is a token more often than a name
        return f"{match['scheme']}{MASK}@" if match["user"] else match[0]
    return f"{match['scheme']}{match['user']}:{MASK}@"


def redact(text: object) -> str:
    """``text`` as a string with every credential masked (URI userinfo, ``password=``)."""
    return _PAIR.sub(rf"\g<key>{MASK}", _USERINFO.sub(_userinfo, str(text)))


def _masked(value: object) -> object:
    """A log argument with its credentials masked; unchanged (type too) if it has none, so
    formats such as ``%d`` and formatters that unpack the arguments keep working."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    masked = redact(text)
    return value if masked == text else masked


class RedactingFilter(logging.Filter):
    """Masks credentials in a record's message, arguments and traceback before any handler
    formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _masked(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_masked(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: _masked(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def redact_logs(*names: str) -> None:
    """Attach one ``RedactingFilter`` to the named loggers and to their handlers (idempotent).

    A logger's filter sees only records logged on that logger; a handler's filter also sees
    those its children propagate to it, so both are covered."""
    for name in names:
        logger = logging.getLogger(name)
        for target in (logger, *logger.handlers):
            if not any(isinstance(f, RedactingFilter) for f in target.filters):
                target.addFilter(RedactingFilter())
