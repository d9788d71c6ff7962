"""The database source: a DIR loaded into SQLite or PostgreSQL reads back as the same data.

``nps-risk features --data URL`` must equal ``--data DIR`` (snapshot and training rows);
rows that break a contract inside the database are quarantined like a file's; ``load``
replaces or upserts; passthrough columns survive; passwords never show.
"""

from __future__ import annotations

import contextlib
import io

import pandas as pd
import pytest
from sqlalchemy import text

from features.database import open_source, read_arrow, shown_url
from features.dataset import load_dataset
from features.ingest import load_tables
from nps_core.config import get_settings
from serving.cli import main as cli

AS_OF = "2026-07-01T09:30"


def _run(argv: list[str]) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(argv)
    assert code == 0, out.getvalue() + err.getvalue()
    return out.getvalue()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("NPS_RISK_HOME", str(tmp_path))
    monkeypatch.setenv("NPS_RISK_THREADS", "2")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _tables(dataset):
    return {
        "interactions": dataset.interactions,
        "surveys": dataset.surveys,
        "customers": dataset.customers,
    }


def test_features_from_a_loaded_database_equal_the_dirs(sim_dir, store_url, home):
    loaded = _run(["load", "--data", str(sim_dir), "--into", store_url])
    assert "agent/team history rebuilt" in loaded
    for as_of in ([], ["--as-of", AS_OF]):
        from_dir, from_db = home / "dir.parquet", home / "db.parquet"
        _run(["features", "--data", str(sim_dir), "--out", str(from_dir), *as_of])
        out = _run(["features", "--data", store_url, "--out", str(from_db), *as_of])
        assert f"loaded {shown_url(store_url)}" in out and "nothing quarantined" in out
        pd.testing.assert_frame_equal(pd.read_parquet(from_db), pd.read_parquet(from_dir))


def test_the_tables_read_back_as_loaded(sim_dir, store_url):
    dataset = load_dataset(sim_dir)
    load_tables(store_url, _tables(dataset), dataset.scale)
    back = load_dataset(store_url)
    for name, frame in _tables(dataset).items():
        key = {"interactions": "interaction_id", "surveys": "response_id"}.get(name, "customer_id")
        ordered = frame.sort_values(key, ignore_index=True)
        read = getattr(back, name).sort_values(key, ignore_index=True)
        pd.testing.assert_frame_equal(read, ordered)


def test_a_bad_row_in_the_database_is_quarantined_like_a_files(sim_dir, store_url):
    dataset = load_dataset(sim_dir)
    load_tables(store_url, _tables(dataset), dataset.scale)
    source = open_source(store_url)
    with source.engine.begin() as conn:  # written behind the tool's back
        conn.execute(text("UPDATE surveys SET score = 11 WHERE response_id = :r"), {"r": "S-bad"})
        victim = str(dataset.surveys["response_id"].iloc[0])
        conn.execute(text("UPDATE surveys SET score = 42 WHERE response_id = :r"), {"r": victim})
    back = load_dataset(store_url)
    assert back.report is not None
    report = back.report.tables["surveys"]
    assert (report.rows_read, report.kept, report.quarantined) == (
        len(dataset.surveys),
        len(dataset.surveys) - 1,
        1,
    )
    row = back.quarantine.iloc[0]
    assert (row["table"], row["column"], row["value"]) == ("surveys", "score", "42")
    assert row["source"] == f"{shown_url(store_url)}#surveys"
    assert victim not in set(back.surveys["response_id"])


def test_load_replaces_or_upserts(sim_dir, store_url):
    dataset = load_dataset(sim_dir)
    tables = _tables(dataset)
    load_tables(store_url, tables, dataset.scale)
    first = tables["interactions"].head(10)
    changed = first.assign(channel="phone")
    load_tables(store_url, {**tables, "interactions": changed}, dataset.scale, mode="upsert")
    back = load_dataset(store_url).interactions.set_index("interaction_id")
    assert len(back) == len(tables["interactions"])  # upsert keeps the other rows
    assert set(back.loc[list(first["interaction_id"]), "channel"]) == {"phone"}
    load_tables(store_url, {**tables, "interactions": first}, dataset.scale)
    assert len(load_dataset(store_url).interactions) == 10  # replace keeps only these


def test_passthrough_columns_survive(sim_dir, store_url):
    dataset = load_dataset(sim_dir)
    tables = _tables(dataset)
    product = pd.Series(["web", None, "app"] * len(tables["interactions"]), dtype="str")
    tables["interactions"] = tables["interactions"].assign(
        product=product.iloc[: len(tables["interactions"])].to_numpy()
    )
    load_tables(store_url, tables, dataset.scale)
    back = load_dataset(store_url).interactions.set_index("interaction_id")
    expected = tables["interactions"].set_index("interaction_id")["product"]
    pd.testing.assert_series_equal(back["product"].reindex(expected.index), expected)


def test_reads_are_columnar_arrow(sim_dir, store_url):
    dataset = load_dataset(sim_dir)
    load_tables(store_url, _tables(dataset), dataset.scale)
    arrow = read_arrow(open_source(store_url), ["interactions"])["interactions"]
    assert arrow.num_rows == len(dataset.interactions)


def test_a_password_never_shows(home, capsys):
    url = "postgresql+psycopg://someone:s3cret-pw@127.0.0.1:1/nothing"
    assert cli(["features", "--data", url, "--out", str(home / "x.parquet")]) == 2
    err = capsys.readouterr().err
    assert "s3cret-pw" not in err and "someone:***@127.0.0.1" in err


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://u@h/db", "names a mysql database"),
        ("sqlite://", "in-memory SQLite"),
        ("sqlite:///does/not/exist.db", "does not exist"),
    ],
)
def test_a_bad_database_argument_is_refused_in_one_line(url, expected, home, capsys):
    assert cli(["features", "--data", url, "--out", str(home / "x.parquet")]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1
