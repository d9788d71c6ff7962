"""Every ``--data`` command prints the load report and writes the quarantine beside its outputs.

One project home for the module: ``train`` (then ``promote``) runs once through the command
line, so ``score`` and ``impact`` find a champion. The counts printed are checked against
the raw files and the quarantine written, so that read = kept + quarantined per table.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from nps_core.config import Settings, get_settings
from serving.cli import main as cli

TABLE_LINE = re.compile(
    r"^  (\w+): ([\d,]+) rows read, ([\d,]+) kept, ([\d,]+) quarantined"
    r"(?: \(([\d,]+) problems\))?"
)


def _number(text: str | None, default: int) -> int:
    return default if text is None else int(text.replace(",", ""))


def printed_counts(out: str) -> dict[str, tuple[int, int, int, int]]:
    """table -> (read, kept, quarantined rows, problems) as the command printed them."""
    counts = {}
    for line in out.splitlines():
        found = TABLE_LINE.match(line)
        if found:
            name, read, kept, rows, problems = found.groups()
            rows_n = _number(rows, 0)
            counts[name] = (_number(read, 0), _number(kept, 0), rows_n, _number(problems, rows_n))
    return counts


def check_load_report(out: str, data_dir: Path, quarantine_file: Path) -> pd.DataFrame:
    """The printed counts reconcile with the raw files and the quarantine file written."""
    assert f"loaded {data_dir}" in out
    assert f"-> {quarantine_file}" in out
    counts = printed_counts(out)
    assert set(counts) == {"interactions", "surveys", "customers"}
    quarantine = pd.read_csv(quarantine_file, dtype="str", keep_default_na=False)
    for name, (read, kept, rows, problems) in counts.items():
        assert read == len(pd.read_parquet(data_dir / f"{name}.parquet")), name
        assert read == kept + rows, name
        mine = quarantine[quarantine["table"] == name]
        assert rows == len(mine.drop_duplicates(["source", "row"])), name
        assert problems == len(mine), name
    # the simulator's dirt: bad interactions and bad survey scores, set aside and shown
    assert counts["interactions"][2] > 0 and counts["surveys"][2] > 0
    assert "    - score: score outside the scale 0-10 (" in out
    assert "    - interaction_id: duplicate interaction_id (" in out
    return quarantine


def _run(argv: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli(argv)
    assert code == 0, out.getvalue()
    return out.getvalue()


@pytest.fixture(scope="module")
def project(tmp_path_factory, sim_dir):
    """A project home where `train` and `promote` ran through the command line."""
    home = tmp_path_factory.mktemp("cli-home")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NPS_RISK_HOME", str(home))
        env.setenv("NPS_RISK_THREADS", "2")
        get_settings.cache_clear()
        metrics = home / "metrics.json"
        trained = _run(["train", "--data", str(sim_dir), "--metrics-out", str(metrics)])
        _run(["promote"])
        yield home, trained, json.loads(metrics.read_text())
    get_settings.cache_clear()


@pytest.fixture
def in_project(project, monkeypatch):
    home = project[0]
    monkeypatch.setenv("NPS_RISK_HOME", str(home))
    monkeypatch.setenv("NPS_RISK_THREADS", "2")
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


def _day_after(sim_dir: Path) -> str:
    opened = pd.read_parquet(sim_dir / "interactions.parquet", columns=["opened_at"])["opened_at"]
    return (opened.max() + pd.Timedelta(days=1)).date().isoformat()


def test_features_reports_rows_and_writes_the_quarantine_beside_out(sim_dir, in_project, capsys):
    out_file = in_project / "rows" / "training_rows.parquet"
    assert cli(["features", "--data", str(sim_dir), "--out", str(out_file)]) == 0
    out = capsys.readouterr().out
    quarantine = check_load_report(out, sim_dir, out_file.parent / "training_rows-quarantine.csv")
    assert set(quarantine.columns) == {"table", "source", "row", "column", "value", "reason"}


def test_train_reports_the_load_and_logs_the_counts_to_mlflow(sim_dir, project):
    from mlflow.tracking import MlflowClient

    home, out, summary = project
    version = summary["model_version"]
    local = home / "outputs" / "reports" / f"model-v{version}-quarantine.csv"
    quarantine = check_load_report(out, sim_dir, local)
    counts = printed_counts(out)
    assert summary["load"]["tables"]["surveys"]["quarantined"] == counts["surveys"][2]

    client = MlflowClient(tracking_uri=Settings(home=home).tracking_uri)
    metrics = client.get_run(summary["run_id"]).data.metrics
    for name, (read, kept, rows, problems) in counts.items():
        assert metrics[f"load_rows_read_{name}"] == read
        assert metrics[f"load_rows_kept_{name}"] == kept
        assert metrics[f"load_rows_quarantined_{name}"] == rows
        assert metrics[f"load_problems_{name}"] == problems
    target = home / "downloaded"
    target.mkdir()
    folder = Path(client.download_artifacts(summary["run_id"], "data", str(target)))
    logged = json.loads((folder / "load_report.json").read_text())
    assert logged["tables"]["surveys"]["reasons"] == {
        "score: score outside the scale 0-10": counts["surveys"][3]
    }
    assert len(pd.read_csv(folder / "quarantine.csv")) == len(quarantine)


def test_score_writes_the_quarantine_beside_the_days_list(sim_dir, in_project, capsys):
    day = _day_after(sim_dir)
    assert cli(["score", "--data", str(sim_dir), "--as-of", day, "--quiet"]) == 0
    out = capsys.readouterr().out
    folder = in_project / "outputs" / "risk_lists"
    check_load_report(out, sim_dir, folder / f"{day}-quarantine.csv")
    assert (folder / f"{day}.csv").exists()
    assert out.index(f"loaded {sim_dir}") < out.index(f"risk list for {day}")


def test_nps_and_impact_write_the_quarantine_in_their_folders(sim_dir, in_project, capsys):
    assert cli(["nps", "--data", str(sim_dir)]) == 0
    check_load_report(capsys.readouterr().out, sim_dir, in_project / "outputs/nps/quarantine.csv")
    day = _day_after(sim_dir)
    assert cli(["impact", "--data", str(sim_dir), "--from", day, "--to", day]) == 0
    out = capsys.readouterr().out
    check_load_report(out, sim_dir, in_project / "outputs/impact/quarantine.csv")
    assert "outreach impact" in out
    assert (in_project / "outputs/impact/qini.png").is_file()
    figures = in_project / "figures" / "impact.json"
    argv = ["impact", "--data", str(sim_dir), "--from", day, "--to", day, "--json", str(figures)]
    assert cli([*argv, "--bootstrap", "20"]) == 0
    document = json.loads(figures.read_text())
    assert {"overall", "by_band", "verdict", "at_capacity", "qini"} <= set(document)
    assert document["qini"]["plot"] == str(figures.with_name("impact-qini.png"))
    assert figures.with_name("impact-qini.png").is_file()
