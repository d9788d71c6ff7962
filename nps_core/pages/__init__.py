"""The house style of every page: one base layout, one stylesheet, shared table macros.

It sits in the core because nps_core is the one package both training (the model report) and
serving (the list summary, later the dashboard) may import. It only turns values into HTML
strings: it reads no data files and writes nothing (Jinja's PackageLoader reads the templates).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from nps_core.pages.formats import count, lift, missing, num, percent

__all__ = ["count", "environment", "lift", "missing", "num", "percent", "render"]


@cache
def environment() -> Environment:
    """The one template environment: escapes every value, fails on a missing one."""
    env = Environment(
        loader=PackageLoader("nps_core.pages", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(num=num, count=count, percent=percent, lift=lift)
    return env


def render(template: str, **context: Any) -> str:
    """A page as one self-contained HTML string (the stylesheet inlined, no network)."""
    return environment().get_template(template).render(**context)
