"""Imports flow one way: serving -> training -> features -> nps_core (see STYLE.md, rule 5)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {
    "nps_core": set(),
    "features": {"nps_core"},
    "training": {"features", "nps_core"},
    "serving": {"training", "features", "nps_core"},
}


def _imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_flow_one_way(package):
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _imported_packages(path) - ALLOWED[package] - {package}
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


def test_nothing_runs_at_import_time_in_core():
    """nps_core holds no I/O: no open(), no mkdir, no network at module level or anywhere."""
    forbidden = {"open", "mkdir", "to_parquet", "read_parquet", "read_csv", "urlopen"}
    offenders = []
    for path in (ROOT / "nps_core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                if name in forbidden:
                    offenders.append(f"{path.name}:{node.lineno} calls {name}")
    assert not offenders, offenders
