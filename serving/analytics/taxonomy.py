"""A versioned taxonomy of comment themes (patterns per theme) and matching comments to it.

Why rules first: a manager must be able to say why a comment counts under "delivery", and a
theme must mean the same thing next month; a statistical model proposes only what the
taxonomy misses (``themes.propose_themes``). The shipped taxonomy for support lives in
``taxonomies/support.toml``; another can be given as a path.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from nps_core.errors import ConfigError

SHIPPED = "support"


@dataclass(frozen=True)
class Theme:
    key: str
    label: str
    patterns: tuple[re.Pattern[str], ...]
    exclude: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    name: str
    version: int
    themes: tuple[Theme, ...]

    @property
    def keys(self) -> list[str]:
        return [t.key for t in self.themes]


def normalise(texts: pd.Series) -> pd.Series:
    """Lower case, accents stripped, runs of 3+ equal letters cut to 2 ("sooo" -> "soo"),
    anything but letters and digits one space: what the patterns are written against."""

    def step(text: str) -> str:
        plain = unicodedata.normalize("NFKD", text).lower()
        plain = "".join(
            ch for ch in unicodedata.normalize("NFKD", plain) if not unicodedata.combining(ch)
        )
        plain = re.sub(r"(\w)\1{2,}", r"\1\1", plain)
        return " ".join(re.sub(r"[\W_]+", " ", plain).split())

    def one(text: object) -> str:
        if not isinstance(text, str):
            return ""
        done = step(text)
        for _ in range(3):  # a few characters change again (a ligature decomposes, ...)
            again = step(done)
            if again == done:
                break
            done = again
        return done

    return texts.map(one).astype("str")


def _compile(where: str, patterns: object) -> tuple[re.Pattern[str], ...]:
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise ConfigError(f"{where}: expected a list of regular expressions")
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise ConfigError(
                f"{where}: pattern {pattern!r} is not a regular expression: {exc}"
            ) from None
    return tuple(compiled)


def parse_taxonomy(raw: dict[str, object], source: str) -> Taxonomy:
    """A taxonomy from its TOML's data; a bad one is refused naming the theme and field."""
    name, version, themes = raw.get("name"), raw.get("version"), raw.get("themes")
    if not isinstance(name, str) or not isinstance(version, int) or not isinstance(themes, list):
        raise ConfigError(f"{source}: needs name (text), version (whole number) and [[themes]]")
    parsed: list[Theme] = []
    for i, entry in enumerate(themes):
        if not isinstance(entry, dict):
            raise ConfigError(f"{source}: themes[{i}] is not a table")
        key, label = entry.get("key"), entry.get("label")
        if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", key):
            raise ConfigError(f"{source}: themes[{i}].key {key!r} is not a lower-case name")
        if key in {t.key for t in parsed}:
            raise ConfigError(f"{source}: theme key {key!r} appears twice")
        if not isinstance(label, str) or not label:
            raise ConfigError(f"{source}: theme {key!r} has no label")
        patterns = _compile(f"{source}: theme {key!r} patterns", entry.get("patterns"))
        if not patterns:
            raise ConfigError(f"{source}: theme {key!r} has no patterns")
        exclude = _compile(f"{source}: theme {key!r} exclude", entry.get("exclude", []))
        parsed.append(Theme(key, label, patterns, exclude))
    if not parsed:
        raise ConfigError(f"{source}: no themes")
    return Taxonomy(name, version, tuple(parsed))


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """The shipped support taxonomy, or the TOML file at ``path``."""
    if path is None:
        text = (resources.files(__package__) / "taxonomies" / f"{SHIPPED}.toml").read_text()
        source = f"the shipped {SHIPPED} taxonomy"
    else:
        text, source = path.read_text(encoding="utf-8"), str(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    return parse_taxonomy(raw, source)


def match_themes(normalised: pd.Series, taxonomy: Taxonomy) -> pd.DataFrame:
    """One boolean column per theme: the comment matches a pattern and no exclusion."""
    texts = normalised.tolist()

    def found(pattern: re.Pattern[str]) -> np.ndarray:
        return np.fromiter((pattern.search(t) is not None for t in texts), bool, len(texts))

    columns = {}
    for theme in taxonomy.themes:
        hit = np.zeros(len(texts), dtype=bool)
        for pattern in theme.patterns:
            hit |= found(pattern)
        for pattern in theme.exclude:
            hit &= ~found(pattern)
        columns[theme.key] = hit
    return pd.DataFrame(columns, index=normalised.index)
