"""load_dataset: a DIR read back through the same validation, with its scale."""

import json
import re

import pandas as pd
import pytest

from features.dataset import Dataset, load_dataset, read_scale, save_scale, write_tables
from features.validation import empty_quarantine
from nps_core.contracts import CUSTOMERS
from nps_core.errors import ConfigError, SchemaError
from nps_core.scale import CSAT_SCALE, NPS_SCALE

T0 = pd.Timestamp("2026-01-05 09:00", tz="UTC")


def typed_tables() -> dict[str, pd.DataFrame]:
    """Typed tables as a simulator writes them, with one dirty row of each kind at the end."""
    interactions = pd.DataFrame(
        {
            "interaction_id": ["i1", "i2", "i1", "i4", "i5"],
            "customer_id": ["c1", "c2", "c1", None, "c2"],
            "channel": ["chat", "Email", "chat", "phone", "chat"],
            "opened_at": [T0] * 5,
            "resolved_at": [T0 + pd.Timedelta(hours=1)] * 4 + [T0 - pd.Timedelta(hours=1)],
            "sentiment": [0.2, -0.4, 0.1, 0.0, 0.0],
        }
    )
    surveys = pd.DataFrame(
        {
            "response_id": ["r1", "r2", "r3"],
            "customer_id": ["c1", "c2", "c1"],
            "responded_at": [T0 + pd.Timedelta(days=1)] * 3,
            "score": pd.array([9, 3, 11], dtype="Int64"),
        }
    )
    customers = pd.DataFrame({"customer_id": ["c1", "c2"], "segment": ["smb", "enterprise"]})
    return {"interactions": interactions, "surveys": surveys, "customers": customers}


def test_dirty_rows_written_to_a_dir_end_in_the_quarantine(tmp_path):
    write_tables(tmp_path, typed_tables())
    dataset = load_dataset(tmp_path)
    q = dataset.quarantine
    assert list(zip(q["table"], q["row"], q["column"], q["reason"], strict=True)) == [
        ("interactions", 3, "interaction_id", "duplicate interaction_id (first seen at row 1)"),
        ("interactions", 4, "customer_id", "missing required value"),
        ("interactions", 5, "resolved_at", "resolved_at before opened_at"),
        ("surveys", 3, "score", "score 11 outside the scale 0-10"),
    ]
    assert q["source"].iloc[0] == str(tmp_path / "interactions.parquet")
    assert dataset.interactions["interaction_id"].tolist() == ["i1", "i2"]
    assert dataset.interactions["channel"].tolist() == ["chat", "email"]
    assert dataset.scale == NPS_SCALE
    report = dataset.report.tables
    assert (report["interactions"].rows_read, report["interactions"].kept) == (5, 2)
    assert report["interactions"].quarantined == 3
    assert (report["surveys"].rows_read, report["surveys"].kept) == (3, 2)
    assert (
        f"interactions: 5 rows read, 2 kept, 3 quarantined ({tmp_path / 'interactions.parquet'})"
        in dataset.report.summary()
    )


def test_the_load_report_counts_rows_and_problems_apart_and_they_reconcile(tmp_path):
    tables = typed_tables()
    dirty = tables["interactions"].assign(sentiment=[0.2, -0.4, 0.1, 0.0, 3.0])
    write_tables(tmp_path, {**tables, "interactions": dirty})  # row 5: two problems, one row
    dataset = load_dataset(tmp_path)
    report = dataset.report
    interactions = report.tables["interactions"]
    assert (interactions.rows_read, interactions.kept) == (5, 2)
    assert (interactions.quarantined, interactions.problems) == (3, 4)
    for name, table in report.tables.items():
        assert table.rows_read == table.kept + table.quarantined
        assert table.problems == int((dataset.quarantine["table"] == name).sum())
    assert report.metrics() == {
        "load_rows_read_interactions": 5,
        "load_rows_kept_interactions": 2,
        "load_rows_quarantined_interactions": 3,
        "load_problems_interactions": 4,
        "load_rows_read_surveys": 3,
        "load_rows_kept_surveys": 2,
        "load_rows_quarantined_surveys": 1,
        "load_problems_surveys": 1,
        "load_rows_read_customers": 2,
        "load_rows_kept_customers": 2,
        "load_rows_quarantined_customers": 0,
        "load_problems_customers": 0,
    }
    assert json.loads(json.dumps(report.to_dict()))["tables"]["interactions"]["problems"] == 4
    lines = report.summary(tmp_path / "q.csv").splitlines()
    assert lines[0] == f"loaded {tmp_path}"
    assert lines[1].startswith("  interactions: 5 rows read, 2 kept, 3 quarantined (4 problems) (")
    assert "    - sentiment: sentiment outside [-1, 1] (1 row)" in lines
    assert lines[-1] == f"  quarantined rows, one line per problem -> {tmp_path / 'q.csv'}"


def test_a_clean_dir_says_nothing_was_quarantined(tmp_path):
    tables = typed_tables()
    write_tables(
        tmp_path,
        {
            "interactions": tables["interactions"].head(2),
            "surveys": tables["surveys"].head(2),
        },
    )
    lines = load_dataset(tmp_path).report.summary(tmp_path / "q.csv").splitlines()
    assert "  customers: no file (empty table)" in lines
    assert lines[-1] == "  nothing quarantined"


def test_csv_tables_are_read_when_there_is_no_parquet(tmp_path):
    tables = typed_tables()
    for name in ("interactions", "surveys"):
        tables[name].to_csv(tmp_path / f"{name}.csv", index=False)
    dataset = load_dataset(tmp_path)
    assert dataset.interactions["opened_at"].tolist() == [T0, T0]
    assert str(dataset.interactions["opened_at"].dtype) == "datetime64[ns, UTC]"
    assert dataset.surveys["score"].tolist() == [9, 3]
    assert dataset.report.files["interactions"].endswith("interactions.csv")


def test_customers_are_optional(tmp_path):
    tables = typed_tables()
    del tables["customers"]
    write_tables(tmp_path, tables)
    customers = load_dataset(tmp_path).customers
    assert customers.empty
    assert list(customers.columns) == list(CUSTOMERS.names)


def test_the_scale_saved_with_the_dir_is_used(tmp_path):
    write_tables(tmp_path, typed_tables())
    save_scale(tmp_path, CSAT_SCALE)
    dataset = load_dataset(tmp_path)
    assert dataset.scale == CSAT_SCALE
    assert dataset.surveys["score"].tolist() == [3]
    assert set(dataset.quarantine.query("table == 'surveys'")["reason"]) == {
        "score 9 outside the scale 1-5",
        "score 11 outside the scale 1-5",
    }


def test_save_and_read_scale_round_trip_and_keep_other_keys(tmp_path):
    assert read_scale(tmp_path) == NPS_SCALE
    (tmp_path / "dataset.json").write_text(json.dumps({"source": "helpdesk"}))
    save_scale(tmp_path, CSAT_SCALE)
    assert read_scale(tmp_path) == CSAT_SCALE
    assert json.loads((tmp_path / "dataset.json").read_text())["source"] == "helpdesk"


@pytest.mark.parametrize(
    "content",
    ["{not json", json.dumps({"scale": {"low": 1}}), json.dumps({"scale": {"low": 5, "high": 1,
     "detractor_max": 2, "promoter_min": 4}})],
)  # fmt: skip
def test_a_broken_dataset_json_names_the_file(tmp_path, content):
    (tmp_path / "dataset.json").write_text(content)
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path / "dataset.json"))):
        read_scale(tmp_path)


def test_a_missing_dir_or_table_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "nope"))):
        load_dataset(tmp_path / "nope")
    tables = typed_tables()
    del tables["surveys"]
    write_tables(tmp_path, tables)
    with pytest.raises(FileNotFoundError, match=r"no surveys table.*surveys\.parquet"):
        load_dataset(tmp_path)


def test_a_text_file_named_parquet_in_a_dir_is_a_clear_error(tmp_path):
    write_tables(tmp_path, typed_tables())
    (tmp_path / "surveys.parquet").write_text("response_id,customer_id\n")
    with pytest.raises(SchemaError, match=r"surveys\.parquet is not a valid Parquet file"):
        load_dataset(tmp_path)


def test_dataset_defaults_keep_older_callers_working():
    tables = typed_tables()
    dataset = Dataset(
        tables["interactions"], tables["surveys"], tables["customers"], empty_quarantine()
    )
    assert dataset.scale == NPS_SCALE
    assert dataset.report is None
