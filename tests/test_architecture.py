"""Imports flow one way, module by module, and never in a circle (STYLE.md, rules 5 and 6).

``serving -> training.registry, features, nps_core``; ``training -> features, nps_core``;
``features -> nps_core``; ``nps_core`` -> nothing of ours. ``serving.cli`` is the one
composition root and may import anything. Inside ``serving``, each concern leans only on
the ones below it: the model hot path, then analytics, then the daily list, then the dashboard's views,
then the API.
The rules are checked on a graph, so the checker itself is tested on synthetic graphs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nps_core", "features", "training", "serving")
COMPOSITION_ROOT = "serving.cli"
# who may import whom, by prefix; the longest matching prefix of the importer decides
ALLOWED: dict[str, tuple[str, ...]] = {
    "nps_core": ("nps_core",),
    "features": ("features", "nps_core"),
    "training": ("training", "features", "nps_core"),
    "serving": ("serving", "training.registry", "features", "nps_core"),
}
# layers inside serving, lowest first: a module may import its own layer or a lower one
SERVING_LAYERS = (
    "serving.predictor",
    "serving.analytics",
    "serving.lists",
    "serving.dashboard",
    "serving.api",
    "serving.demo",
    "serving.screenshots",
)
SCRIPTS = ("serving.demo", "serving.screenshots")  # `make` targets that run the CLI's commands

Graph = Mapping[str, set[str]]


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, level: int, importer: str, is_package: bool) -> str:
    if level == 0:
        return module
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Every module of ours -> the modules of ours it imports (anywhere in its body)."""
    files = {
        _module_name(p, root): p
        for package in PACKAGES
        for p in sorted((root / package).rglob("*.py"))
    }
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(node.module or "", node.level, name, path.name == "__init__.py")
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.add(sub if sub in files else base)
        graph[name] = {t for t in targets if t.split(".")[0] in PACKAGES and t != name}
    return graph


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _layer(module: str) -> int | None:
    for i, prefix in enumerate(SERVING_LAYERS):
        if _matches(module, prefix):
            return i
    return None


def forbidden_imports(graph: Graph) -> list[str]:
    """Edges that break the direction rules, as readable lines."""
    offenders = []
    for importer, targets in sorted(graph.items()):
        if _matches(importer, COMPOSITION_ROOT):
            continue
        allowed = ALLOWED[importer.split(".")[0]]
        for target in sorted(targets):
            if not any(_matches(target, prefix) for prefix in allowed):
                offenders.append(f"{importer} imports {target}")
                continue
            if _matches(target, COMPOSITION_ROOT) and importer not in SCRIPTS:
                offenders.append(f"{importer} imports the composition root {target}")
            mine, theirs = _layer(importer), _layer(target)
            if mine is not None and theirs is not None and theirs > mine:
                offenders.append(f"{importer} imports {target}, a higher layer of serving")
    return offenders


def import_cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), or a self-import."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def _graph(edges: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    return graph


# --- the rules on the real tree ---------------------------------------------------------
def test_imports_flow_one_way_module_by_module():
    assert forbidden_imports(import_graph()) == []


def test_no_import_cycles():
    assert import_cycles(import_graph()) == []


def test_the_graph_sees_function_local_and_relative_imports(tmp_path):
    (tmp_path / "serving" / "api").mkdir(parents=True)
    (tmp_path / "training").mkdir()
    for package in ("nps_core", "features"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "serving" / "__init__.py").write_text("")
    (tmp_path / "serving" / "api" / "__init__.py").write_text("from . import app\n")
    (tmp_path / "serving" / "api" / "app.py").write_text(
        "def f():\n    from training.workflow import train\n"
    )
    (tmp_path / "training" / "__init__.py").write_text("")
    (tmp_path / "training" / "workflow.py").write_text("")
    graph = import_graph(tmp_path)
    assert graph["serving.api"] == {"serving.api.app"}
    assert graph["serving.api.app"] == {"training.workflow"}
    assert forbidden_imports(graph) == ["serving.api.app imports training.workflow"]


# --- the checker on synthetic graphs: each rule can fail ---------------------------------
@pytest.mark.parametrize(
    ("edge", "reason"),
    [
        (("nps_core.nps", "features.rows"), "imports features.rows"),
        (("features.rows", "training.model"), "imports training.model"),
        (("training.train", "serving.predictor"), "imports serving.predictor"),
        (("serving.lists.scoring", "training.workflow"), "imports training.workflow"),
        (("serving.api.app", "training.model"), "imports training.model"),
        (("serving.lists.scoring", "serving.api.schemas"), "a higher layer"),
        (("serving.predictor", "serving.lists.store"), "a higher layer"),
        (("serving.api.app", "serving.cli"), "the composition root"),
    ],
)
def test_a_forbidden_import_is_caught(edge, reason):
    offenders = forbidden_imports(_graph([edge]))
    assert len(offenders) == 1 and reason in offenders[0]


@pytest.mark.parametrize(
    "edge",
    [
        ("serving.api.state", "training.registry"),
        ("serving.cli", "training.workflow"),
        ("serving.api.routes.lists", "serving.lists.store"),
        ("serving.lists.scoring", "serving.predictor"),
        ("training.workflow", "features.rows"),
        ("features.rows", "nps_core.scale"),
    ],
)
def test_an_allowed_import_passes(edge):
    assert forbidden_imports(_graph([edge])) == []


def test_a_cycle_is_caught_however_long():
    assert import_cycles(_graph([("a.x", "a.y"), ("a.y", "a.z"), ("a.z", "a.x")])) == [
        ["a.x", "a.y", "a.z"]
    ]
    assert import_cycles(_graph([("a.x", "a.x")])) == [["a.x"]]
    assert import_cycles(_graph([("a.x", "a.y"), ("a.y", "a.z")])) == []


# --- the core stays pure -------------------------------------------------------------------
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


def test_every_subpackage_says_what_it_owns():
    missing = []
    for package in PACKAGES:
        for init in (ROOT / package).rglob("__init__.py"):
            doc = ast.get_docstring(ast.parse(init.read_text()))
            if not doc:
                missing.append(str(init.relative_to(ROOT)))
    assert not missing, missing
