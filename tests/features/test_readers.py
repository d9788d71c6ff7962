"""read_raw: text CSVs, typed Parquet, and clear errors for files that are not what they claim."""

import gzip
import re
from pathlib import Path

import pandas as pd
import pytest

from features.readers import read_raw
from features.validation import validate_table
from nps_core.contracts import INTERACTIONS, SURVEYS
from nps_core.errors import SchemaError

DIRTY_CSV = """\
interaction_id,customer_id,channel,opened_at,resolved_at,sentiment,escalated
i1,c1,Chat,2024-03-01 09:00,2024-03-01 10:00,0.5,no
i2,,email,2024-03-01 09:00,,,
i3,c3,phone,03/01/2024,,,
i1,c4,chat,2024-03-02 09:00,,,
i5,c5, Live Chat ,2024-03-02 09:00,2024-03-02 08:00,,
i6,c6,chat,2024-03-02 09:00,,-2,
i7,c7,chat,2024-03-02T09:00:00+05:30,,,sometimes
i8,c8,chat,2024-03-02 09:00,,,
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_columns_are_all_read_as_text_with_nothing_turned_into_missing(tmp_path):
    path = write(tmp_path / "t.csv", "id,score,when,note\n007,9,2024-03-01,NA\n")
    raw = read_raw(path)
    assert raw.dtypes.astype(str).tolist() == ["str"] * 4
    assert raw.iloc[0].tolist() == ["007", "9", "2024-03-01", "NA"]


def test_csv_header_spaces_and_byte_order_mark_are_dropped(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffid , name\n1,a\n".encode())
    assert read_raw(path).columns.tolist() == ["id", "name"]


def test_dirty_csv_rows_each_land_in_quarantine_with_file_row_column_value_reason(tmp_path):
    path = write(tmp_path / "tickets.csv", DIRTY_CSV)
    result = validate_table(read_raw(path), INTERACTIONS, source=str(path))
    q = result.quarantine
    assert set(q["source"]) == {str(path)}
    assert list(zip(q["row"], q["column"], q["value"], q["reason"], strict=True)) == [
        (2, "customer_id", "", "missing required value"),
        (
            3,
            "opened_at",
            "03/01/2024",
            "unparseable timestamp (expected ISO 8601, e.g. 2024-03-01 09:30:00+00:00)",
        ),
        (4, "interaction_id", "i1", "duplicate interaction_id (first seen at row 1)"),
        (5, "resolved_at", "2024-03-02 08:00", "resolved_at before opened_at"),
        (6, "sentiment", "-2", "sentiment outside [-1, 1]"),
        (7, "escalated", "sometimes", "unparseable boolean"),
    ]
    assert result.kept["interaction_id"].tolist() == ["i1", "i8"]
    assert result.rows_read == 8 == len(result.kept) + q["row"].nunique()


def test_dirty_parquet_rows_land_in_quarantine_too(tmp_path):
    path = tmp_path / "surveys.parquet"
    pd.DataFrame(
        {
            "response_id": ["r1", "r2", "r2", "r4"],
            "customer_id": ["c1", "c2", "c3", None],
            "responded_at": pd.to_datetime(["2024-03-01"] * 4, utc=True),
            "score": pd.array([9, 11, 3, 5], dtype="Int64"),
        }
    ).to_parquet(path)
    result = validate_table(read_raw(path), SURVEYS, source=str(path))
    q = result.quarantine
    assert list(zip(q["row"], q["column"], q["value"], q["reason"], strict=True)) == [
        (2, "score", "11", "score 11 outside the scale 0-10"),
        (3, "response_id", "r2", "duplicate response_id (first seen at row 2)"),
        (4, "customer_id", "", "missing required value"),
    ]
    assert result.kept["response_id"].tolist() == ["r1"]
    assert result.rows_read == len(result.kept) + result.quarantined_rows


def test_missing_required_column_in_a_file_names_file_and_column(tmp_path):
    path = write(tmp_path / "no_opened.csv", "interaction_id,customer_id,channel\ni1,c1,chat\n")
    with pytest.raises(SchemaError, match=r"no_opened\.csv.*'opened_at'"):
        validate_table(read_raw(path), INTERACTIONS, source=str(path))


def test_a_text_file_named_parquet_is_a_clear_error(tmp_path):
    path = write(tmp_path / "interactions.parquet", DIRTY_CSV)
    with pytest.raises(
        SchemaError, match=rf"file {re.escape(str(path))} is not a valid Parquet file"
    ) as caught:
        read_raw(path)
    assert caught.value.source == str(path)


def test_a_parquet_file_named_csv_is_a_clear_error(tmp_path):
    path = tmp_path / "interactions.csv"
    pd.DataFrame({"a": [1]}).to_parquet(path)
    with pytest.raises(
        SchemaError,
        match=rf"file {re.escape(str(path))} is not a CSV text file \(it looks like a Parquet",
    ):
        read_raw(path)


def test_binary_and_badly_encoded_csv_files_are_clear_errors(tmp_path):
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"id,name\n1,\x00\x01\x02\n")
    with pytest.raises(SchemaError, match="not a CSV text file"):
        read_raw(binary)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("id,name\n1,Jos\xe9\n".encode("latin-1"))
    with pytest.raises(
        SchemaError, match=rf"file {re.escape(str(latin))} is not readable as utf-8-sig"
    ):
        read_raw(latin)
    assert read_raw(latin, encoding="latin-1")["name"].tolist() == ["José"]


def test_empty_and_truncated_files_are_clear_errors(tmp_path):
    empty = write(tmp_path / "empty.csv", "")
    with pytest.raises(SchemaError, match=rf"file {re.escape(str(empty))} is empty"):
        read_raw(empty)
    truncated = tmp_path / "cut.parquet"
    pd.DataFrame({"a": range(100)}).to_parquet(truncated)
    truncated.write_bytes(truncated.read_bytes()[:-30] + b"PAR1")
    with pytest.raises(
        SchemaError, match=rf"file {re.escape(str(truncated))} is not a valid Parquet file"
    ):
        read_raw(truncated)


def test_a_missing_file_and_an_unknown_type_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.csv"):
        read_raw(tmp_path / "nowhere.csv")
    xlsx = write(tmp_path / "export.xlsx", "x")
    with pytest.raises(SchemaError, match=r"export\.xlsx has an unsupported type '\.xlsx'"):
        read_raw(xlsx)


def test_delimiter_and_tsv(tmp_path):
    semi = write(tmp_path / "semi.csv", "a;b\n1;2\n")
    assert read_raw(semi, delimiter=";").columns.tolist() == ["a", "b"]
    tsv = write(tmp_path / "t.tsv", "a\tb\n1\t2\n")
    assert read_raw(tsv).iloc[0].tolist() == ["1", "2"]


def test_a_gzip_compressed_csv_reads_as_the_csv_does(tmp_path):
    plain = write(tmp_path / "t.csv", "id,name\n1, Ann\n2,\n")
    packed = tmp_path / "t.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    pd.testing.assert_frame_equal(read_raw(packed), read_raw(plain))
    tsv = tmp_path / "t.tsv.gz"
    tsv.write_bytes(gzip.compress(b"a\tb\n1\t2\n"))
    assert read_raw(tsv).columns.tolist() == ["a", "b"]


def test_a_broken_or_unknown_compressed_file_is_a_clear_error(tmp_path):
    broken = tmp_path / "cut.csv.gz"
    broken.write_bytes(gzip.compress(b"id\n1\n")[:12])
    with pytest.raises(SchemaError, match=r"cut\.csv\.gz is not a readable"):
        read_raw(broken)
    parquet = tmp_path / "t.parquet.gz"
    parquet.write_bytes(gzip.compress(b"x"))
    with pytest.raises(SchemaError, match=r"unsupported type '\.parquet\.gz'"):
        read_raw(parquet)
