"""Comment themes: the taxonomy, the impact anyone can recompute from the assignments, the
ranking rules, recovery of the simulator's true causes, proposals for what the taxonomy
misses, and the real e-commerce remarks."""

from __future__ import annotations

import json
import math
import tomllib
from importlib import resources

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.dataset import load_dataset
from features.simulate import SimulationConfig, simulate, write_simulation
from nps_core.errors import ConfigError
from serving.analytics.taxonomy import load_taxonomy, match_themes, normalise, parse_taxonomy
from serving.analytics.themes import themes_dict, themes_report
from tests.conftest import ECOMMERCE_CSV, REPO

SUPPORT_THEMES = {
    "resolution",
    "speed",
    "repeat_transfer",
    "attitude",
    "delivery",
    "refund_billing",
    "product",
    "praise",
}
# the simulator's cause of a comment -> the taxonomy theme that should find it
EXPECTED = {
    "unresolved": "resolution",
    "transferred": "repeat_transfer",
    "repeat": "repeat_transfer",
    "slow": "speed",
    "rude": "attitude",
    "praise": "praise",
}


def _shipped_raw() -> dict:
    text = (resources.files("serving.analytics") / "taxonomies" / "support.toml").read_text()
    return tomllib.loads(text)


@pytest.fixture(scope="module")
def commented(tmp_path_factory):
    """A simulation big enough for every cause to have dozens of comments."""
    out = tmp_path_factory.mktemp("themes-sim")
    write_simulation(simulate(SimulationConfig(customers=8000, days=365, seed=7)), out)
    return load_dataset(out), pd.read_parquet(out / "truth.parquet")


@pytest.fixture(scope="module")
def ecommerce(tmp_path_factory):
    from features.importer import import_export

    out = tmp_path_factory.mktemp("ecommerce-themes")
    import_export(ECOMMERCE_CSV, REPO / "examples" / "ecommerce_csat.mapping.toml", out)
    data = load_dataset(out)
    return data, themes_report(data, load_taxonomy(), bootstrap=100)


def test_the_shipped_taxonomy_is_versioned_and_covers_support():
    taxonomy = load_taxonomy()
    assert taxonomy.name == "support" and taxonomy.version >= 1
    assert set(taxonomy.keys) == SUPPORT_THEMES


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda raw: raw["themes"].append(dict(raw["themes"][0])), "appears twice"),
        (lambda raw: raw["themes"][1].update(patterns=["(unclosed"]), "not a regular expression"),
        (lambda raw: raw["themes"][2].update(patterns=[]), "has no patterns"),
        (lambda raw: raw["themes"][3].update(key="Bad Key"), "not a lower-case name"),
        (lambda raw: raw.pop("version"), "needs name"),
    ],
)
def test_a_bad_taxonomy_is_refused_naming_the_problem(change, said):
    raw = _shipped_raw()
    change(raw)
    with pytest.raises(ConfigError, match=said):
        parse_taxonomy(raw, "mine.toml")


def test_a_taxonomy_file_that_is_not_toml_is_refused(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text("name = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_taxonomy(path)


@given(st.text(max_size=60))
def test_normalising_is_idempotent_and_leaves_words_and_single_spaces(text):
    once = normalise(pd.Series([text]))[0]
    assert normalise(pd.Series([once]))[0] == once
    assert once == once.strip() and "  " not in once and once == once.lower()
    assert all(ch.isalnum() or ch == " " for ch in once)


@pytest.mark.parametrize(
    ("comment", "themes"),
    [
        ("My issue is STILL not resolved!!!", {"resolution"}),
        ("problem abhi tak solve nahi hua", {"resolution"}),
        ("Waited 3 days for a reply", {"speed"}),
        ("transfered... no, TRANSFERRED 4 times", {"repeat_transfer"}),
        ("executive was very rude", {"attitude"}),
        ("Order not received, delivery boy never came", {"delivery"}),
        ("Please refund my money", {"refund_billing"}),
        ("received a damaged product", {"product"}),
        ("Bahut accha service, dhanyavad", {"praise"}),
        ("not good at all", set()),
        ("Sooooo goood", {"praise"}),
    ],
)
def test_patterns_read_short_noisy_mixed_language_comments(comment, themes):
    hits = match_themes(normalise(pd.Series([comment])), load_taxonomy()).iloc[0]
    assert set(hits[hits].index) == themes


def test_impact_is_recomputable_from_the_assignments_and_the_surveys(sim_dir):
    data = load_dataset(sim_dir)
    report = themes_dict(themes_report(data, load_taxonomy(), bootstrap=50))
    internal = set(data.customers.loc[data.customers["is_internal"].eq(True), "customer_id"])
    answers = data.surveys[~data.surveys["customer_id"].isin(internal)]
    value = answers["score"].map(lambda s: 1 if s >= 9 else -1 if s <= 6 else 0)
    themes_of = {a["response_id"]: a["themes"] for a in report["assignments"]}
    assert set(themes_of) == set(answers.loc[answers["comment"].notna(), "response_id"])
    for theme in report["themes"]:
        without = ~answers["response_id"].map(lambda r, k=theme["key"]: k in themes_of.get(r, []))
        want = 100 * value.mean() - 100 * value[without].mean()
        assert theme["impact"] == pytest.approx(want, abs=1e-9), theme["key"]
        assert theme["volume"] == int((~without).sum())
        if theme["ranked"]:
            assert theme["impact_ci_low"] <= theme["impact"] <= theme["impact_ci_high"]


def test_small_themes_are_flagged_not_ranked_and_ranks_follow_impact(sim_dir):
    report = themes_dict(
        themes_report(load_dataset(sim_dir), load_taxonomy(), min_count=40, bootstrap=20)
    )
    ranked = [t for t in report["themes"] if t["ranked"]]
    flagged = [t for t in report["themes"] if not t["ranked"]]
    assert ranked and flagged
    assert [t["rank"] for t in ranked] == list(range(1, len(ranked) + 1))
    assert [t["impact"] for t in ranked] == sorted(t["impact"] for t in ranked)
    assert all(t["volume"] >= 40 for t in ranked)
    assert all(
        t["volume"] < 40 and t["rank"] is None and "fewer than 40" in t["flag"] for t in flagged
    )
    assert report["themes"][: len(ranked)] == ranked  # ranked first
    for theme in ranked:
        assert sum(p["volume"] for p in theme["trend"]) == theme["volume"]
        assert 1 <= len(theme["examples"]) <= 3 and len(set(theme["examples"])) == len(
            theme["examples"]
        )


def test_the_same_data_gives_the_same_themes(sim_dir):
    data = load_dataset(sim_dir)
    one = themes_dict(themes_report(data, load_taxonomy(), bootstrap=30))
    two = themes_dict(themes_report(data, load_taxonomy(), bootstrap=30))
    assert json.dumps(one) == json.dumps(two)


def test_themes_recover_the_simulated_causes(commented):
    data, truth = commented
    report = themes_report(data, load_taxonomy(), bootstrap=20)
    found = report.assignments.merge(truth, on="response_id")
    assert len(found) > 3000
    for cause, theme in EXPECTED.items():
        of_cause = found[found["cause"] == cause]
        assert len(of_cause) >= 40, cause
        recall = of_cause["themes"].map(lambda t, k=theme: k in t).mean()
        assert recall >= 0.75, (cause, recall)
    for theme in set(EXPECTED.values()):
        with_theme = found[found["themes"].map(lambda t, k=theme: k in t)]
        precision = with_theme["cause"].map(lambda c, k=theme: EXPECTED.get(c) == k).mean()
        assert precision >= 0.85, (theme, precision)
    by_key = {t.key: t for t in report.themes}
    assert by_key["praise"].impact_ci_low > 0
    for theme in ("resolution", "speed", "repeat_transfer", "attitude"):
        assert by_key[theme].impact_ci_high < 0, theme


def test_proposed_themes_find_what_the_taxonomy_misses(commented):
    """Without its resolution theme, NMF proposes topics holding the unresolved comments."""
    data, truth = commented
    raw = _shipped_raw()
    raw["themes"] = [t for t in raw["themes"] if t["key"] != "resolution"]
    report = themes_report(data, parse_taxonomy(raw, "without resolution"), bootstrap=20)
    found = report.assignments.merge(truth, on="response_id")
    unresolved = found["cause"] == "unresolved"
    covered = pd.Series(False, index=found.index)
    for theme in report.themes:
        if theme.source != "proposed":
            continue
        members = found["themes"].map(lambda t, k=theme.key: k in t)
        if members.any() and unresolved[members].mean() >= 0.9:
            covered |= members
            assert theme.label.startswith("proposed: ") and theme.top_terms
            assert theme.impact < 0
    assert covered[unresolved].mean() >= 0.7


def test_real_ecommerce_remarks_unresolved_delivery_and_refunds_cost_most(ecommerce):
    data, report = ecommerce
    assert report.comments > 4000
    ranked = [t for t in report.themes if t.ranked]
    negative = [t.key for t in ranked if t.impact < 0]
    assert ranked[0].key in {"resolution", "delivery", "refund_billing"}
    assert {"resolution", "delivery", "refund_billing"} <= set(negative[:4])
    by_key = {t.key: t for t in report.themes}
    for key in ("resolution", "delivery", "refund_billing"):
        assert by_key[key].impact_ci_high < 0, key
        assert by_key[key].detractor_share > by_key[key].promoter_share, key
    praise = by_key["praise"]
    assert praise.impact_ci_low > 0 and praise is max(ranked, key=lambda t: t.impact)
    assert praise.promoter_share > 5 * praise.detractor_share
    assert math.isclose(
        report.overall.nps,
        100 * (data.surveys["score"].ge(4).mean() - data.surveys["score"].le(2).mean()),
    )


def test_the_command_writes_the_themes_and_a_plot(sim_dir, tmp_path, monkeypatch, capsys):
    from nps_core.config import get_settings
    from serving.cli import main as cli

    monkeypatch.setenv("NPS_RISK_OUTPUTS_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        code = cli(
            [
                "themes",
                "--data",
                str(sim_dir),
                "--json",
                str(tmp_path / "t.json"),
                "--bootstrap",
                "20",
            ]
        )
    finally:
        get_settings.cache_clear()
    assert code == 0
    written = json.loads((tmp_path / "t.json").read_text())
    assert written == json.loads(
        json.dumps(themes_dict(themes_report(load_dataset(sim_dir), load_taxonomy(), bootstrap=20)))
    )
    assert (tmp_path / "t-impact.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "impact = NPS(all) - NPS(without the theme)" in out and "Praise" in out


def test_a_bad_taxonomy_file_ends_the_command_in_one_line(sim_dir, tmp_path, capsys):
    from serving.cli import main as cli

    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "x"\nversion = 1\n[[themes]]\nkey = "a"\nlabel = "A"\npatterns = ["(("]\n'
    )
    assert cli(["themes", "--data", str(sim_dir), "--taxonomy", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "theme 'a' patterns" in err[0] and "not a regular expression" in err[0]
