"""validate_table: canonical dtypes, every bad row in quarantine with a plain reason, counts."""

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.validation import (
    QUARANTINE_COLUMNS,
    ValidationResult,
    empty_quarantine,
    empty_table,
    normalise_channels,
    reason_counts,
    validate_table,
)
from nps_core.contracts import CUSTOMERS, INTERACTIONS, KIND_DTYPES, SURVEYS
from nps_core.errors import ConfigError, SchemaError
from nps_core.scale import CSAT_SCALE


def interactions(**columns: list[str]) -> pd.DataFrame:
    """A text frame (as a CSV gives) with valid defaults for the required columns."""
    n = len(next(iter(columns.values())))
    base = {
        "interaction_id": [f"i{k}" for k in range(n)],
        "customer_id": ["c1"] * n,
        "channel": ["chat"] * n,
        "opened_at": ["2024-03-01 09:00:00"] * n,
    }
    return pd.DataFrame({**base, **columns}, dtype="str")


def surveys(scores: list[str]) -> pd.DataFrame:
    n = len(scores)
    return pd.DataFrame(
        {
            "response_id": [f"r{k}" for k in range(n)],
            "customer_id": ["c1"] * n,
            "responded_at": ["2024-03-02T10:00:00Z"] * n,
            "score": scores,
        },
        dtype="str",
    )


def problems(result: ValidationResult) -> list[tuple[int, str, str, str]]:
    q = result.quarantine
    return list(zip(q["row"].tolist(), q["column"], q["value"], q["reason"], strict=True))


def assert_reconciles(result: ValidationResult) -> None:
    distinct = result.quarantine.drop_duplicates(["source", "row"]).shape[0]
    assert result.rows_read == len(result.kept) + distinct


# --- canonical form ------------------------------------------------------------------


def test_clean_rows_come_out_in_canonical_dtypes_with_every_contract_column():
    raw = interactions(team=[" support ", ""], escalated=["yes", "no"])
    result = validate_table(raw, INTERACTIONS, source="x.csv")
    kept = result.kept
    assert list(kept.columns) == list(INTERACTIONS.names)
    for column in INTERACTIONS.columns:
        assert str(kept[column.name].dtype) == KIND_DTYPES[column.kind], column.name
    assert kept["team"].tolist()[0] == "support"
    assert pd.isna(kept["team"].tolist()[1])
    assert kept["resolved_at"].isna().all()
    assert result.quarantine.empty
    assert_reconciles(result)


def test_naive_timestamps_are_utc_and_aware_ones_are_converted():
    raw = interactions(
        opened_at=["2024-03-01 09:00:00", "2024-03-01T09:00:00+05:30", "2024-03-01T09:00:00Z"]
    )
    kept = validate_table(raw, INTERACTIONS, source="x.csv").kept
    assert kept["opened_at"].tolist() == [
        pd.Timestamp("2024-03-01 09:00", tz="UTC"),
        pd.Timestamp("2024-03-01 03:30", tz="UTC"),
        pd.Timestamp("2024-03-01 09:00", tz="UTC"),
    ]
    assert str(kept["opened_at"].dtype) == "datetime64[ns, UTC]"


def test_typed_timestamps_naive_and_in_another_zone_end_in_utc():
    naive = pd.DataFrame(
        {
            "response_id": ["r1"],
            "customer_id": ["c1"],
            "responded_at": pd.to_datetime(["2024-03-01 09:00"]),
            "score": [9],
        }
    )
    aware = naive.assign(responded_at=naive["responded_at"].dt.tz_localize("Asia/Kolkata"))
    assert validate_table(naive, SURVEYS, source="n").kept["responded_at"].iloc[0] == pd.Timestamp(
        "2024-03-01 09:00", tz="UTC"
    )
    assert validate_table(aware, SURVEYS, source="a").kept["responded_at"].iloc[0] == pd.Timestamp(
        "2024-03-01 03:30", tz="UTC"
    )


def test_explicit_timestamp_format_reads_day_first_dates():
    raw = interactions(opened_at=["01/08/2023 10:29"])
    kept = validate_table(
        raw, INTERACTIONS, source="x.csv", timestamp_formats={"opened_at": "%d/%m/%Y %H:%M"}
    ).kept
    assert kept["opened_at"].iloc[0] == pd.Timestamp("2023-08-01 10:29", tz="UTC")


def test_channels_are_lower_cased_stripped_and_aliased_in_both_tables():
    raw = interactions(channel=[" Live Chat ", "E-Mail", "PHONE", "Twitter", "sms"])
    kept = validate_table(raw, INTERACTIONS, source="x.csv").kept
    assert kept["channel"].tolist() == ["chat", "email", "phone", "social", "sms"]
    s = surveys(["9", "3"]).assign(channel=["WhatsApp", ""])
    kept = validate_table(s, SURVEYS, source="s.csv").kept
    assert kept["channel"].tolist()[0] == "chat"
    assert pd.isna(kept["channel"].tolist()[1])


def test_normalise_channels_keeps_the_index():
    out = normalise_channels(pd.Series(["Mail", None], index=[7, 9], dtype="str"))
    assert out.index.tolist() == [7, 9]
    assert out.tolist()[0] == "email"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True), ("TRUE", True), ("Yes", True), ("y", True), ("1", True), ("T", True),
        ("false", False), ("No", False), ("N", False), ("0", False), ("f", False), (" yes ", True),
    ],
)  # fmt: skip
def test_booleans_are_read_from_the_usual_spellings(text, expected):
    kept = validate_table(interactions(escalated=[text]), INTERACTIONS, source="x.csv").kept
    assert kept["escalated"].dtype == "boolean"
    assert kept["escalated"].tolist() == [expected]


def test_typed_numeric_booleans_and_nullable_ints_pass_through():
    raw = interactions(escalated=["x"]).assign(
        escalated=pd.array([1], dtype="Int64"), contacts=pd.array([3], dtype="Int64")
    )
    kept = validate_table(raw, INTERACTIONS, source="x.parquet").kept
    assert kept["escalated"].tolist() == [True]
    assert kept["contacts"].tolist() == [3]


def test_extra_columns_are_carried_as_clean_text_after_the_contract_columns():
    raw = interactions(agent_shift=[" Morning ", ""])
    kept = validate_table(raw, INTERACTIONS, source="x.csv").kept
    assert list(kept.columns)[-1] == "agent_shift"
    assert kept["agent_shift"].dtype == "str"
    assert kept["agent_shift"].tolist()[0] == "Morning"
    assert pd.isna(kept["agent_shift"].tolist()[1])


def test_the_input_frame_is_not_changed():
    raw = interactions(channel=[" Chat "], escalated=["yes"])
    before = raw.copy()
    validate_table(raw, INTERACTIONS, source="x.csv")
    pd.testing.assert_frame_equal(raw, before)


def test_empty_tables_and_quarantine_have_their_columns():
    assert list(empty_quarantine().columns) == list(QUARANTINE_COLUMNS)
    customers = empty_table(CUSTOMERS)
    assert list(customers.columns) == list(CUSTOMERS.names)
    assert str(customers["signup_at"].dtype) == "datetime64[ns, UTC]"
    result = validate_table(interactions(team=["a"]), INTERACTIONS, source="x.csv")
    assert list(result.quarantine.columns) == list(QUARANTINE_COLUMNS)


# --- quarantine ---------------------------------------------------------------------------


def test_each_kind_of_bad_interaction_row_lands_in_quarantine_with_a_plain_reason():
    raw = interactions(
        interaction_id=["i1", "i2", "i1", "i4", "i5", "i6", "i7", "i8", "i9", "i10", "i11"],
        customer_id=["c", "c", "c", " ", "c", "c", "c", "c", "c", "c", "c"],
        opened_at=["2024-03-01 10:00"] * 4 + ["yesterday"] + ["2024-03-01 10:00"] * 6,
        resolved_at=["", "", "", "", "", "2024-03-01 09:00", "", "", "", "", ""],
        first_response_at=["", "", "", "", "", "", "2024-03-01 09:59", "", "", "", ""],
        sentiment=["", "", "", "", "", "", "", "1.5", "", "", ""],
        handle_time_s=["", "", "", "", "", "", "", "", "-3", "", ""],
        contacts=["", "", "", "", "", "", "", "", "", "2.5", ""],
        escalated=["", "", "", "", "", "", "", "", "", "", "maybe"],
    )
    result = validate_table(raw, INTERACTIONS, source="dirty.csv")
    assert problems(result) == [
        (3, "interaction_id", "i1", "duplicate interaction_id (first seen at row 1)"),
        (4, "customer_id", "", "missing required value"),
        (
            5,
            "opened_at",
            "yesterday",
            "unparseable timestamp (expected ISO 8601, e.g. 2024-03-01 09:30:00+00:00)",
        ),
        (6, "resolved_at", "2024-03-01 09:00", "resolved_at before opened_at"),
        (7, "first_response_at", "2024-03-01 09:59", "first_response_at before opened_at"),
        (8, "sentiment", "1.5", "sentiment outside [-1, 1]"),
        (9, "handle_time_s", "-3", "negative handle_time_s"),
        (10, "contacts", "2.5", "not a whole number"),
        (11, "escalated", "maybe", "unparseable boolean"),
    ]
    assert set(result.quarantine["source"]) == {"dirty.csv"}
    assert set(result.quarantine["table"]) == {"interactions"}
    assert result.kept["interaction_id"].tolist() == ["i1", "i2"]
    assert_reconciles(result)


def test_a_row_with_two_problems_is_quarantined_once_per_problem_and_counted_once():
    raw = interactions(
        opened_at=["2024-03-01", "2024-03-01"], sentiment=["7", ""], contacts=["-1", ""]
    )
    result = validate_table(raw, INTERACTIONS, source="x.csv")
    assert result.quarantine["row"].tolist() == [1, 1]
    assert result.rows_read == 2
    assert result.quarantined_rows == 1
    assert len(result.kept) == 1


def test_timestamp_reason_names_the_expected_format():
    raw = interactions(opened_at=["2024-03-01 10:00"])
    result = validate_table(
        raw, INTERACTIONS, source="x.csv", timestamp_formats={"opened_at": "%d/%m/%Y %H:%M"}
    )
    assert problems(result) == [
        (
            1,
            "opened_at",
            "2024-03-01 10:00",
            "unparseable timestamp (expected format %d/%m/%Y %H:%M)",
        )
    ]


def test_unparseable_optional_values_quarantine_the_row():
    raw = interactions(sentiment=["good", ""], transfers=["", "two"])
    result = validate_table(raw, INTERACTIONS, source="x.csv")
    assert problems(result) == [
        (1, "sentiment", "good", "not a number"),
        (2, "transfers", "two", "not a number"),
    ]
    assert result.kept.empty


def test_scores_outside_the_scale_and_not_whole_are_quarantined():
    result = validate_table(surveys(["10", "11", "-1", "7.5", "x", ""]), SURVEYS, source="s.csv")
    assert problems(result) == [
        (2, "score", "11", "score 11 outside the scale 0-10"),
        (3, "score", "-1", "score -1 outside the scale 0-10"),
        (4, "score", "7.5", "not a whole number"),
        (5, "score", "x", "not a number"),
        (6, "score", "", "missing required value"),
    ]
    assert result.kept["score"].tolist() == [10]


def test_csat_scale_accepts_1_to_5_only():
    result = validate_table(
        surveys(["1", "5", "0", "6", "9"]), SURVEYS, source="s.csv", scale=CSAT_SCALE
    )
    assert result.kept["score"].tolist() == [1, 5]
    assert result.quarantine["reason"].tolist() == [
        "score 0 outside the scale 1-5",
        "score 6 outside the scale 1-5",
        "score 9 outside the scale 1-5",
    ]


def test_row_numbers_given_are_used_in_the_quarantine():
    raw = surveys(["1", "12"])
    result = validate_table(raw, SURVEYS, source="s.csv", row_numbers=pd.Series([40, 41]))
    assert result.quarantine["row"].tolist() == [41]


def test_reason_counts_drop_per_row_details():
    raw = interactions(interaction_id=["a", "a", "a", "b"])
    result = validate_table(raw, INTERACTIONS, source="x.csv")
    assert reason_counts(result.quarantine) == {"interaction_id: duplicate interaction_id": 2}
    assert result.report().to_dict() == {
        "rows_read": 4,
        "kept": 2,
        "quarantined": 2,
        "problems": 2,
        "reasons": {"interaction_id: duplicate interaction_id": 2},
    }


def test_adjuster_runs_before_the_order_checks():
    raw = interactions(opened_at=["2024-03-01 10:00"], resolved_at=["2024-03-01"])

    def end_of_day(parsed: pd.DataFrame) -> pd.DataFrame:
        return parsed.assign(resolved_at=parsed["resolved_at"] + pd.Timedelta(hours=23, minutes=59))

    assert not validate_table(raw, INTERACTIONS, source="x.csv").quarantine.empty
    adjusted = validate_table(raw, INTERACTIONS, source="x.csv", adjust=end_of_day)
    assert adjusted.quarantine.empty
    assert adjusted.kept["resolved_at"].iloc[0] == pd.Timestamp("2024-03-01 23:59", tz="UTC")


# --- schema errors and the invariant ------------------------------------------------------


def test_a_missing_required_column_names_the_file_the_column_and_what_was_found():
    raw = interactions(team=["a"]).drop(columns="opened_at")
    with pytest.raises(SchemaError) as caught:
        validate_table(raw, INTERACTIONS, source="exports/tickets.csv")
    message = str(caught.value)
    assert "exports/tickets.csv" in message
    assert "'opened_at'" in message
    assert "interaction_id, customer_id, channel, team" in message
    assert caught.value.column == "opened_at"


def test_a_format_for_a_column_that_is_no_timestamp_is_a_config_error():
    with pytest.raises(ConfigError, match="team"):
        validate_table(
            interactions(team=["a"]), INTERACTIONS, source="x", timestamp_formats={"team": "%Y"}
        )


def test_the_bookkeeping_invariant_is_enforced():
    kept = interactions(team=["a"])
    with pytest.raises(RuntimeError, match="bookkeeping"):
        ValidationResult(kept=kept, quarantine=empty_quarantine(), rows_read=2)


# --- property: counts reconcile, no good row lost ----------------------------------------

DEFECTS = {
    "missing_customer": ("customer_id", ""),
    "bad_time": ("opened_at", "31/02/2024"),
    "bad_bool": ("escalated", "perhaps"),
    "sentiment": ("sentiment", "-1.01"),
    "negative_handle": ("handle_time_s", "-0.5"),
    "bad_int": ("transfers", "1.5"),
    "resolved_early": ("resolved_at", "2024-02-29T23:59:59Z"),
}


@st.composite
def mixed_rows(draw):
    kinds = draw(st.lists(st.sampled_from([None, "duplicate", *DEFECTS]), min_size=0, max_size=30))
    pad = draw(st.sampled_from(["", " ", "  "]))
    rows = []
    for i, kind in enumerate(kinds):
        row = {
            "interaction_id": f"{pad}i{i}{pad}",
            "customer_id": f"c{i % 3}",
            "channel": draw(st.sampled_from(["Chat", " email", "Live Chat", "PHONE"])),
            "opened_at": "2024-03-01 00:00:00",
            "resolved_at": draw(st.sampled_from(["", "2024-03-02 00:00"])),
            "escalated": draw(st.sampled_from(["", "yes", "N", "0"])),
            "sentiment": draw(st.sampled_from(["", "-1", "0.25", "1"])),
            "handle_time_s": draw(st.sampled_from(["", "0", "12.5"])),
            "transfers": draw(st.sampled_from(["", "0", "3"])),
        }
        if kind == "duplicate" and i > 0:
            row["interaction_id"] = rows[draw(st.integers(0, i - 1))][1]["interaction_id"]
        elif kind in DEFECTS:
            column, value = DEFECTS[kind]
            row[column] = value
        else:
            kind = None
        rows.append((kind, row))
    return rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_rows())
def test_counts_reconcile_and_no_good_row_is_lost(rows):
    columns = ["interaction_id", "customer_id", "channel", "opened_at", "resolved_at", "escalated",
               "sentiment", "handle_time_s", "transfers"]  # fmt: skip
    raw = pd.DataFrame([r for _, r in rows], columns=columns, dtype="str")
    result = validate_table(raw, INTERACTIONS, source="mixed.csv")

    bad_rows = {i + 1 for i, (kind, _) in enumerate(rows) if kind is not None}
    good_ids = [r["interaction_id"].strip() for kind, r in rows if kind is None]
    assert result.rows_read == len(rows)
    assert result.rows_read == len(result.kept) + result.quarantined_rows
    assert set(result.quarantine["row"].tolist()) == bad_rows
    assert result.kept["interaction_id"].tolist() == good_ids
    for i, (kind, _) in enumerate(rows):
        if kind in DEFECTS:
            at_row = result.quarantine[result.quarantine["row"] == i + 1]
            assert DEFECTS[kind][0] in set(at_row["column"]), (kind, at_row)
