import pandas as pd

from features.answers import answers_with_context
from features.dataset import load_dataset
from nps_core.industry import compare
from serving.analytics.nps import nps_tables
from serving.cli import main as cli


def test_industry_context_is_one_plain_sentence():
    assert "below the typical range for Software / SaaS" in compare(25, "saas")
    assert "within the typical range" in compare(10, "telecom")
    assert compare(-5, "telecom").endswith("Below 0 is a warning sign.")


def test_internal_accounts_never_count_and_context_is_joined(sim_dir):
    data = load_dataset(sim_dir)
    answers = answers_with_context(data.interactions, data.surveys, data.customers)
    internal = set(
        data.customers.loc[data.customers["is_internal"].fillna(False).astype(bool), "customer_id"]
    )
    assert internal and not set(answers["customer_id"]) & internal
    assert answers["team"].notna().mean() > 0.95 and answers["segment"].notna().mean() > 0.95


def test_tables_add_up_and_the_command_writes_a_plot(sim_dir, tmp_path, monkeypatch, capsys):
    data = load_dataset(sim_dir)
    tables = nps_tables(data, ["channel", "team"])
    answers = answers_with_context(data.interactions, data.surveys, data.customers)
    assert tables["period"]["n"].sum() == tables["channel"]["n"].sum() == len(answers)
    monkeypatch.setenv("NPS_RISK_OUTPUTS_DIR", str(tmp_path))
    from nps_core.config import get_settings

    get_settings.cache_clear()
    try:
        assert cli(["nps", "--data", str(sim_dir), "--industry", "saas"]) == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert "by channel:" in out and "typical range for Software / SaaS" in out
    png = tmp_path / "nps" / "nps_trend.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pd.read_csv(tmp_path / "nps" / "nps_by_team.csv")["n"].sum() == len(answers)
