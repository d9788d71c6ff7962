"""docs/model-quality.md is rendered whole from the benchmark's JSON: every figure of its
prose comes from that JSON, and the committed document is exactly the committed JSON's
rendering (so it cannot mix runs)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from benchmarks.model_quality_doc import figures_not_in, render_document, write_document
from benchmarks.paths import REPO

FIXTURE = Path(__file__).with_name("model_quality_fixture.json")


@pytest.fixture
def results() -> dict:
    return json.loads(FIXTURE.read_text())


def test_every_figure_of_the_document_is_in_the_json(results):
    text = render_document(results)
    assert figures_not_in(text, results) == []
    for section in ("## Verdict", "## Bar 1", "## Bar 2", "## Bar 3", "support team", "Caveats"):
        assert section in text
    team = results["ecommerce"]["team"]
    assert f"**{100 * team['precision_at_k_per_day']:.0f}%** of the time" in text


def test_a_figure_typed_by_hand_is_caught(results):
    text = render_document(results)
    assert figures_not_in(
        text.replace("## Caveats", "## Caveats\n\nAbout 61.7% agree."), results
    ) == ["61.7%"]
    ours = results["ecommerce"]["ours"]["roc_auc"]
    shown = f"{ours:.3f}"
    typo = f"{ours + 0.004:.3f}"
    assert shown in text and typo not in text
    assert figures_not_in(text.replace(shown, typo), results) == [typo] * text.count(shown)


def test_the_document_follows_the_json_and_says_its_mode(results):
    changed = copy.deepcopy(results)
    changed["ecommerce"]["ours_minus_reference"]["difference"] = 0.01234
    assert "+0.0123 [" in render_document(changed)
    assert "(quick mode)" in render_document(results) and results["quick"]
    full = {**results, "quick": False}
    assert "(full mode)" in render_document(full) and "Quick mode" not in render_document(full)


def test_a_partial_run_renders_only_what_it_measured(results):
    only = {k: v for k, v in results.items() if k not in ("simulator", "simulator_no_patience")}
    text = render_document(only)
    assert "## Bar 1" not in text and "## Bar 2" in text
    assert figures_not_in(text, only) == []


def test_write_document_keeps_the_json_beside_it(results, tmp_path):
    source = tmp_path / "figures.json"
    source.write_text(json.dumps(results))
    doc = tmp_path / "model-quality.md"
    text = write_document(source, doc)
    assert doc.read_text() == text
    assert json.loads(doc.with_suffix(".json").read_text()) == results


def test_the_committed_document_is_the_rendering_of_the_committed_json():
    doc = REPO / "docs" / "model-quality.md"
    figures = json.loads(doc.with_suffix(".json").read_text())
    assert doc.read_text(encoding="utf-8") == render_document(figures)
    assert figures_not_in(doc.read_text(encoding="utf-8"), figures) == []
