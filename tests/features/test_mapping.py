"""Mappings: loading and checking the TOML, applying it, importing an export with it."""

import csv
import gzip
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.paths import ECOMMERCE_CSV, ECOMMERCE_MAPPING, SHARED_ECOMMERCE_CSV
from features.dataset import load_dataset
from features.importer import import_export, import_tables
from features.mapping import ROW_COLUMN, apply_mapping, load_mapping, timestamp_adjuster
from nps_core.errors import ConfigError, SchemaError
from nps_core.scale import CSAT_SCALE, NPS_SCALE

SMALL_MAPPING = """
[scale]
low = 1
high = 5
detractor_max = 2
promoter_min = 4

[interactions.columns]
interaction_id = "Ticket"
customer_id = "Who"
channel = "Via"
opened_at = "Opened"
first_response_at = "Answered"
handle_time_s = "Minutes"

[interactions.timestamps]
opened_at = "%d/%m/%Y %H:%M"
first_response_at = "%d/%m/%Y %H:%M"

[interactions.values.channel]
"Web Widget" = "chat"

[interactions.multiply]
handle_time_s = 60

[interactions.constants]
team = "tier 1"

[interactions.extra]
shift = "Shift"

[surveys.columns]
response_id = "Ticket"
customer_id = "Who"
interaction_id = "Ticket"
responded_at = "Survey day"
score = "Rating"

[surveys.timestamps.responded_at]
format = "%d-%b-%y"
end_of_day = true
not_before = "interactions.first_response_at"
"""

SMALL_EXPORT = """\
Ticket,Who,Via,Opened,Answered,Minutes,Shift,Survey day,Rating
t1,alice,Web Widget,01/08/2023 10:00,01/08/2023 10:30,2.5,Morning,01-Aug-23,5
t2,bob,Email,01/08/2023 23:00,02/08/2023 01:00,,Night,01-Aug-23,2
t3,carol,Phone,2023-08-01 10:00,01/08/2023 11:00,x,Day,01-Aug-23,7
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def small(tmp_path):
    mapping = load_mapping(write(tmp_path / "small.toml", SMALL_MAPPING))
    raw = pd.read_csv(
        write(tmp_path / "export.csv", SMALL_EXPORT), dtype="str", keep_default_na=False
    )
    return mapping, raw


# --- loading -------------------------------------------------------------------------


def test_the_example_mapping_loads_with_its_csat_scale_and_the_time_trap_rule():
    mapping = load_mapping(ECOMMERCE_MAPPING)
    assert mapping.scale == CSAT_SCALE
    assert set(mapping.tables) == {"interactions", "surveys"}
    rule = mapping.tables["surveys"].timestamps["responded_at"]
    assert rule.end_of_day
    assert rule.not_before == "interactions.first_response_at"
    assert "Customer Remarks" not in mapping.tables["interactions"].source_columns


def test_a_mapping_without_scale_is_nps(tmp_path):
    text = SMALL_MAPPING.split("[interactions.columns]", 1)[1]
    mapping = load_mapping(write(tmp_path / "m.toml", "[interactions.columns]" + text))
    assert mapping.scale == NPS_SCALE


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('score = "Rating"', ""), r"\[surveys.columns\].*required column 'score' is not mapped"),
        (
            ("[interactions.extra]", "[interactions.extras]"),
            r"\[interactions\] key 'extras'.*unknown",
        ),
        (('team = "tier 1"', 'teem = "tier 1"'), r"\[interactions\] key 'teem'.*not a column"),
        (("high = 5", "high = 2"), r"\[scale\]"),
        (("high = 5", 'high = "5"'), r"\[scale\] key 'high'.*whole number"),
        (("interactions.first_response_at", "interactions.resolved_at"), r"not_before"),
        (('shift = "Shift"', 'team = "Shift"'), r"\[interactions.extra\] key 'team'.*taken"),
        (("handle_time_s = 60", 'handle_time_s = "60"'), r"\[interactions.multiply\].*number"),
        (('team = "tier 1"', 'opened_at = "x"'), r"'opened_at'.*also in columns"),
        (("[surveys.columns]", "[surveyz.columns]"), r"top level key 'surveyz'"),
        (('"Web Widget" = "chat"', '"Web Widget" = 3'), r"values.channel.*Web Widget"),
    ],
)
def test_mapping_errors_name_the_file_and_the_key(tmp_path, change, expected):
    path = write(tmp_path / "broken.toml", SMALL_MAPPING.replace(*change, 1))
    with pytest.raises(ConfigError, match=rf"mapping {re.escape(str(path))}: .*{expected}"):
        load_mapping(path)


def test_invalid_toml_and_a_missing_mapping_file_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load_mapping(write(tmp_path / "bad.toml", "[interactions\n"))
    with pytest.raises(ConfigError, match=r"none\.toml does not exist"):
        load_mapping(tmp_path / "none.toml")


def test_a_mapping_needs_interactions_and_surveys(tmp_path):
    only = SMALL_MAPPING.split("[surveys.columns]")[0]
    with pytest.raises(ConfigError, match=r"\[surveys\]: the table is missing"):
        load_mapping(write(tmp_path / "m.toml", only))


# --- applying ------------------------------------------------------------------------


def test_apply_mapping_renames_maps_values_multiplies_adds_constants_extras_and_rows(small):
    mapping, raw = small
    before = raw.copy()
    out = apply_mapping(raw, mapping, "interactions", source="export.csv")
    pd.testing.assert_frame_equal(raw, before)
    assert list(out.columns) == [
        "interaction_id", "customer_id", "channel", "opened_at", "first_response_at",
        "handle_time_s", "team", "shift", ROW_COLUMN,
    ]  # fmt: skip
    assert out["channel"].tolist() == ["chat", "Email", "Phone"]
    assert out["handle_time_s"].tolist()[0] == "150.0"
    assert pd.isna(out["handle_time_s"].tolist()[1])
    assert out["handle_time_s"].tolist()[2] == "x"  # left for validation to report
    assert out["team"].tolist() == ["tier 1"] * 3
    assert out[ROW_COLUMN].tolist() == [1, 2, 3]


def test_one_source_column_feeds_several_contract_columns(small):
    mapping, raw = small
    out = apply_mapping(raw, mapping, "surveys")
    assert out["response_id"].tolist() == out["interaction_id"].tolist() == ["t1", "t2", "t3"]


def test_a_mapped_column_missing_from_the_export_names_export_column_and_key(small):
    mapping, raw = small
    with pytest.raises(SchemaError) as caught:
        apply_mapping(raw.drop(columns="Opened"), mapping, "interactions", source="export.csv")
    message = str(caught.value)
    assert "export.csv" in message
    assert "'Opened'" in message
    assert "[interactions.columns] opened_at" in message


def test_day_only_survey_time_is_end_of_day_and_never_before_the_response(small):
    mapping, raw = small
    results = import_tables(raw, mapping, source="export.csv")
    surveys = results["surveys"].kept.set_index("response_id")["responded_at"]
    assert surveys["t1"] == pd.Timestamp("2023-08-01 23:59:59", tz="UTC")
    assert surveys["t2"] == pd.Timestamp("2023-08-02 01:00", tz="UTC")  # answered next day


def test_the_adjuster_keeps_missing_values_missing(small):
    mapping, raw = small
    adjust = timestamp_adjuster(raw, mapping, "surveys")
    parsed = pd.DataFrame({"responded_at": pd.to_datetime([None, "2023-08-01", None], utc=True)})
    out = adjust(parsed)
    assert out["responded_at"].isna().tolist() == [True, False, True]
    assert timestamp_adjuster(raw, mapping, "interactions") is None


def test_import_tables_quarantines_bad_export_rows_with_export_row_numbers(small):
    mapping, raw = small
    results = import_tables(raw, mapping, source="export.csv")
    q = results["interactions"].quarantine
    assert list(zip(q["row"], q["column"], q["value"], q["reason"], strict=True)) == [
        (
            3,
            "opened_at",
            "2023-08-01 10:00",
            "unparseable timestamp (expected format %d/%m/%Y %H:%M)",
        ),
        (3, "handle_time_s", "x", "not a number"),
    ]
    assert results["interactions"].kept["channel"].tolist() == ["chat", "email"]
    assert results["interactions"].kept["handle_time_s"].tolist()[0] == 150.0
    sq = results["surveys"].quarantine
    assert sq["reason"].tolist() == ["score 7 outside the scale 1-5"]
    assert sq["row"].tolist() == [3]


def test_import_export_writes_tables_quarantine_report_and_scale(tmp_path):
    source = write(tmp_path / "export.csv", SMALL_EXPORT)
    mapping = write(tmp_path / "small.toml", SMALL_MAPPING)
    out = tmp_path / "out"
    report = import_export(source, mapping, out)

    for name in ("interactions", "surveys", "customers"):
        assert (out / f"{name}.parquet").exists()
    quarantine = pd.read_csv(out / "quarantine.csv", dtype="str", keep_default_na=False)
    assert quarantine["table"].tolist() == ["interactions", "interactions", "surveys"]
    assert quarantine["source"].unique().tolist() == [str(source)]
    written = json.loads((out / "import_report.json").read_text())
    assert written["tables"]["interactions"] == {
        "rows_read": 3,
        "kept": 2,
        "quarantined": 1,
        "problems": 2,
        "reasons": {
            "handle_time_s: not a number": 1,
            "opened_at: unparseable timestamp (expected format %d/%m/%Y %H:%M)": 1,
        },
    }
    assert written["scale"] == {"low": 1, "high": 5, "detractor_max": 2, "promoter_min": 4}
    assert json.loads((out / "dataset.json").read_text())["scale"]["high"] == 5
    summary = report.summary()
    assert "interactions: 3 rows read, 2 kept, 1 quarantined (2 problems)" in summary
    assert "customers: not in the mapping" in summary

    dataset = load_dataset(out)
    assert dataset.scale == CSAT_SCALE
    assert dataset.quarantine.empty
    assert dataset.interactions["shift"].tolist() == ["Morning", "Night"]
    assert dataset.customers.empty


# --- the real e-commerce export --------------------------------------------------------


@pytest.fixture(scope="module")
def ecommerce(tmp_path_factory):
    out = tmp_path_factory.mktemp("ecommerce")
    report = import_export(ECOMMERCE_CSV, ECOMMERCE_MAPPING, out)
    return report, load_dataset(out)


def _raw_rows() -> list[dict[str, str]]:
    with gzip.open(ECOMMERCE_CSV, "rt", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_ecommerce_import_counts_reconcile(ecommerce):
    report, dataset = ecommerce
    assert set(report.tables) == {"interactions", "surveys"}
    for table in report.tables.values():
        assert table.rows_read == 13_122
        assert table.rows_read == table.kept + table.quarantined
    assert len(dataset.interactions) == report.tables["interactions"].kept
    assert len(dataset.surveys) == report.tables["surveys"].kept
    assert dataset.quarantine.empty  # what the import kept stays valid when read back
    assert dataset.customers.empty


def test_ecommerce_surveys_come_after_the_response_they_rate(ecommerce):
    _, dataset = ecommerce
    pairs = dataset.surveys.merge(
        dataset.interactions[["interaction_id", "first_response_at"]], on="interaction_id"
    )
    assert len(pairs) == len(dataset.surveys)
    assert (pairs["responded_at"] >= pairs["first_response_at"]).all()


def test_ecommerce_known_row_is_parsed_day_first(ecommerce):
    _, dataset = ecommerce
    key = "428a9342-9459-4846-b949-9a92baae02ff"  # 29/07/2023 13:45, 01/08/2023 10:29, 01-Aug-23
    row = dataset.interactions.set_index("interaction_id").loc[key]
    assert row["opened_at"] == pd.Timestamp("2023-07-29 13:45", tz="UTC")
    assert row["first_response_at"] == pd.Timestamp("2023-08-01 10:29", tz="UTC")
    assert row["channel"] == "outcall"
    assert row["agent_id"] == "Eric Miller MD"
    assert row["team"] == "Landon Tanaka"
    assert row["agent_tenure_bucket"] == ">90"
    survey = dataset.surveys.set_index("response_id").loc[key]
    assert survey["responded_at"] == pd.Timestamp("2023-08-01 23:59:59", tz="UTC")
    assert survey["score"] == 1


def test_ecommerce_scale_is_csat_and_the_detractor_share_matches_the_file(ecommerce):
    report, dataset = ecommerce
    assert report.scale == CSAT_SCALE
    assert dataset.scale == CSAT_SCALE
    assert dataset.surveys["score"].between(1, 5).all()
    share = dataset.scale.is_detractor(dataset.surveys["score"]).mean()
    expected = sum(int(r["CSAT Score"]) <= 2 for r in _raw_rows()) / 13_122
    assert share == pytest.approx(expected)
    # The data README says 14.4%; this 20% sample has 2,000 of 13,122 answers at CSAT <= 2.
    assert share == pytest.approx(0.152, abs=0.01)


def test_ecommerce_remarks_are_only_in_surveys_comment(ecommerce):
    _, dataset = ecommerce
    remarks = {r["Unique id"]: r["Customer Remarks"].strip() for r in _raw_rows()}
    comments = dataset.surveys.set_index("response_id")["comment"].fillna("")
    assert comments.to_dict() == remarks
    lowered = [c.lower() for c in dataset.interactions.columns]
    assert not any("remark" in c or "comment" in c for c in lowered)
    long_remarks = {text for text in remarks.values() if len(text) > 40}  # short ones: "Good"
    assert len(long_remarks) > 500
    for column in dataset.interactions.columns:
        values = set(dataset.interactions[column].dropna().astype(str))
        assert not values & long_remarks, column


def test_the_repositorys_copy_is_the_shared_file():
    """The compressed copy is the shared e-commerce file, byte for byte (where it exists)."""
    copy = gzip.decompress(ECOMMERCE_CSV.read_bytes())
    assert len(copy) > 3_000_000 and copy.count(b"\n") >= 13_122
    if SHARED_ECOMMERCE_CSV.exists():
        assert copy == SHARED_ECOMMERCE_CSV.read_bytes()
