"""Point-in-time features: one row per (customer, as_of), from what was known before as_of.

What becomes known when (the contract of this module):
- a contact exists from ``opened_at``; its channel, topic, team and agent with it;
- its first-answer delay from ``first_response_at``;
- its outcome (resolution time, first-contact resolution, escalation, transfers, reopen,
  extra contacts, handling time, sentiment) from ``resolved_at``: a ticket resolved at or
  after t was open at t and its outcome is unknown;
- a survey answer from ``responded_at``.
"Before t" is strict everywhere; windows are [t - w, t). Each stream is indexed once by
(customer, time), each input column is put in stream order once, and every window is a
difference of prefix sums (see ``timeindex``). The streams are independent, so they run
side by side on a small thread pool (numpy and arrow release the GIL in the heavy steps).

Over 400 lines by design: the streams share one customer code space, one sort order
and one pool per call; split across modules they would be passed around on every call.
The index arithmetic itself lives in ``timeindex``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, TypedDict

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.catalog import FeatureSpec, feature_catalog
from features.threads import Inline, workers_for
from features.timeindex import (
    EventIndex,
    earlier_by,
    elapsed,
    last_value,
    offsets_from,
    prefix_sums,
    window_extreme,
    window_sum,
)
from nps_core.errors import InvalidTimeError

NS_HOUR = 3_600 * 10**9
NS_DAY = 24 * NS_HOUR
AGENT_HISTORY_COLUMNS = ("responded_at", "agent_id", "team", "is_detractor")
NEVER = np.iinfo(np.int64).max
_SPLIT = 2**30  # int64 sums of either part stay exact for ~10^9 events of a 30-year span

Columns = dict[str, "np.ndarray | pd.Series"]


class _ContactCarry(TypedDict):
    """Partial sums from the contact stream that the open-work features need."""

    total: np.ndarray
    opened_total: tuple[np.ndarray, np.ndarray]
    last_agent: pd.Series


class _OutcomeCarry(TypedDict):
    """Partial sums from the outcome stream that the open-work features need."""

    count: np.ndarray
    opened_total: tuple[np.ndarray, np.ndarray]


def _ns(series: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 nanoseconds (NaT -> int64 min; mask with isna())."""
    nanoseconds: np.ndarray = series.dt.as_unit("ns").to_numpy(dtype="datetime64[ns]")
    return nanoseconds.view(np.int64)


def _floats(series: pd.Series) -> np.ndarray:
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _factorized(series: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Float codes (NaN for missing) and the distinct values, without Python string objects."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    out = codes.astype(np.float64)
    out[codes < 0] = np.nan
    return out, pd.Index(uniques)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


class _Stream:
    """Events of one kind for the queries: every window bound located once.

    Values are put in stream order once (``sort``); every other method takes values that
    are already in that order, so no column is gathered twice.
    """

    def __init__(
        self,
        codes: np.ndarray,
        times: np.ndarray,
        q_codes: np.ndarray,
        q_times: np.ndarray,
        windows: tuple[int, ...],
        ids: Any = None,
    ) -> None:
        self.index = EventIndex.build(codes, times, ids)
        self.hi = self.index.before(q_codes, q_times)
        self.start = self.index.start(q_codes)
        self.lo = {w: self.index.before(q_codes, earlier_by(q_times, w * NS_DAY)) for w in windows}

    def sort(self, values: np.ndarray) -> np.ndarray:
        return self.index.sorted_values(values)

    def _lo(self, w: int | None) -> np.ndarray:
        return self.start if w is None else self.lo[w]

    def count(self, w: int | None = None) -> np.ndarray:
        counts: np.ndarray = (self.hi - self._lo(w)).astype(np.float64)
        return counts

    def totals(self, ordered: np.ndarray) -> dict[int | None, np.ndarray]:
        """Sums over every window (and all history, key None) from one prefix sum."""
        prefix = prefix_sums(ordered)
        return {w: window_sum(prefix, self._lo(w), self.hi) for w in (*self.lo, None)}

    def total(self, ordered: np.ndarray, w: int | None = None) -> np.ndarray:
        return window_sum(prefix_sums(ordered), self._lo(w), self.hi)

    def exact_total(self, ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All-history sum of uint64 nanosecond offsets (``offsets_from``) as exact
        (high, low) integer parts, high * _SPLIT + low: float prefix sums over millions of
        such values would lose whole hours to rounding in a difference of two totals."""
        high, low = (part.astype(np.int64) for part in np.divmod(ordered, _SPLIT))
        return tuple(  # type: ignore[return-value]
            window_sum(np.concatenate(([0], np.cumsum(part))), self.start, self.hi)
            for part in (high, low)
        )

    def means(self, ordered: np.ndarray) -> dict[int | None, np.ndarray]:
        missing = np.isnan(ordered)
        sums = self.totals(ordered)
        known = self.totals(~missing) if missing.any() else {w: self.count(w) for w in sums}
        return {w: _ratio(sums[w], known[w]) for w in sums}

    def extreme(self, ordered: np.ndarray, w: int, *, largest: bool) -> np.ndarray:
        return window_extreme(ordered, self.lo[w], self.hi, largest=largest)

    def last(self, ordered: np.ndarray) -> np.ndarray:
        return last_value(ordered, self.start, self.hi)

    @property
    def has_any(self) -> np.ndarray:
        return self.hi > self.start

    def last_exact(self, ordered: np.ndarray, missing: int) -> np.ndarray:
        """Latest event's int64 value before t (exact, no float rounding), ``missing`` if none."""
        if len(ordered) == 0:
            return np.full(len(self.hi), missing, dtype=np.int64)
        return np.where(self.has_any, ordered.take(np.maximum(self.hi - 1, 0)), missing)

    def first_exact(self, ordered: np.ndarray, missing: int) -> np.ndarray:
        if len(ordered) == 0:
            return np.full(len(self.hi), missing, dtype=np.int64)
        return np.where(
            self.has_any, ordered.take(np.minimum(self.start, len(ordered) - 1)), missing
        )


def internal_ids(customers: pd.DataFrame) -> pd.Index:
    """Customers flagged as internal or test accounts: never counted anywhere."""
    flagged = customers["is_internal"].fillna(False).astype(bool)
    ids: pd.Index = pd.Index(customers.loc[flagged, "customer_id"])
    return ids


def agent_history(
    interactions: pd.DataFrame,
    surveys: pd.DataFrame,
    customers: pd.DataFrame,
    spec: FeatureSpec,
) -> pd.DataFrame:
    """Surveys with the agent and team of the ticket that triggered them (for agent/team
    rates); internal and test accounts' answers left out, as everywhere else."""
    # Hash the (few) surveyed ticket ids once and look every ticket up in that table: far
    # cheaper than one hash table over all ticket ids.
    survey_codes, surveyed = pd.factorize(surveys["interaction_id"])
    match = pc.index_in(
        pa.array(interactions["interaction_id"].astype("str").array),
        value_set=pa.array(pd.Series(surveyed, dtype="str").array),
    )
    ticket_of_id = match.to_numpy(zero_copy_only=False)
    has = ~np.isnan(ticket_of_id) if ticket_of_id.dtype.kind == "f" else ticket_of_id >= 0
    tickets, ids = np.flatnonzero(has), ticket_of_id[has].astype(np.int64)
    first_ticket = np.full(len(surveyed) + 1, -1, dtype=np.int64)
    first_ticket[ids[::-1]] = tickets[::-1]  # the first ticket with an id wins
    position = first_ticket[survey_codes]  # code -1 (no id) reads the trailing -1
    internal = surveys["customer_id"].isin(internal_ids(customers)).to_numpy(dtype=bool)
    found = (position >= 0) & ~internal
    linked = pd.concat(
        [
            surveys.loc[found, ["responded_at", "score"]].reset_index(drop=True),
            interactions[["opened_at", "agent_id", "team"]]
            .iloc[position[found]]
            .reset_index(drop=True),
        ],
        axis=1,
    )
    # An answer can only be about a ticket that existed when it was given.
    linked = linked[linked["opened_at"] <= linked["responded_at"]]
    return pd.DataFrame(
        {
            "responded_at": linked["responded_at"],
            "agent_id": linked["agent_id"],
            "team": linked["team"],
            "is_detractor": spec.scale.is_detractor(linked["score"]).astype("float64"),
        }
    )


@dataclass(frozen=True)
class HistoryTotals:
    """The agent/team history as counts known before one time: answers and Detractor
    answers overall, and per agent and per team (key -> (answers, Detractors)). What the
    live path reads from the database instead of every answer; equal to ``agent_history``
    counted before that time."""

    answers: float
    detractors: float
    agents: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    teams: Mapping[str, tuple[float, float]] = field(default_factory=dict)


def _counted(
    history: pd.DataFrame, key: str, q_keys: pd.Series, q_times: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each query key's answers and Detractor answers before t (NaN where it has no key)."""
    known = history[history[key].notna()]
    codes, _ = pd.factorize(
        pd.concat([known[key].astype("str"), q_keys.astype("str")], ignore_index=True)
    )
    ev_codes, q_codes_raw = codes[: len(known)], codes[len(known) :]
    has_key = q_codes_raw >= 0
    q_codes = np.where(has_key, q_codes_raw, 0).astype(np.int64)
    stream = _Stream(ev_codes, _ns(known["responded_at"]), q_codes, q_times, ())
    n = np.where(has_key, stream.count(), np.nan)
    detractors = stream.total(stream.sort(known["is_detractor"].to_numpy(np.float64)))
    return n, np.where(has_key, detractors, np.nan)


def _looked_up(
    counts: Mapping[str, tuple[float, float]], q_keys: pd.Series
) -> tuple[np.ndarray, np.ndarray]:
    """``_counted`` from totals: a key without answers has (0, 0), a missing key NaN."""
    pairs = [
        (math.nan, math.nan) if pd.isna(key) else counts.get(str(key), (0.0, 0.0)) for key in q_keys
    ]
    n, detractors = np.array(pairs, dtype=np.float64).reshape(-1, 2).T
    return n, detractors


def _shrunk(
    n: np.ndarray, detractors: np.ndarray, prior_rate: np.ndarray, weight: float
) -> np.ndarray:
    """Detractor share of each key's surveys before t, shrunk toward the overall share."""
    prior = np.nan_to_num(prior_rate, nan=0.0)
    rate: np.ndarray = (detractors + weight * prior) / (n + weight)
    rate[np.isnan(prior_rate) & (n == 0)] = np.nan
    return rate


@dataclass(frozen=True)
class _Context:
    """The inputs every stream reads, in the interactions' row order."""

    interactions: pd.DataFrame
    spec: FeatureSpec
    i_codes: np.ndarray
    q_codes: np.ndarray  # sorted by (customer, as_of)
    q_times: np.ndarray
    opened: np.ndarray
    first_resp: np.ndarray
    resolved: np.ndarray
    responded_mask: np.ndarray
    resolved_mask: np.ndarray
    channels: tuple[np.ndarray, pd.Index]  # factorized channel of each interaction
    t0: int  # the earliest opened_at: open-ticket times are summed as offsets from it


def _contact_stream(ctx: _Context) -> _Stream:
    ids = ctx.interactions["interaction_id"].array
    return _Stream(ctx.i_codes, ctx.opened, ctx.q_codes, ctx.q_times, ctx.spec.windows_days, ids)


def _contact_features(ctx: _Context, contacts: _Stream) -> tuple[Columns, _ContactCarry]:
    """Volume, recency, repeats, channel mix and the latest contact's attributes, by
    opened_at; plus the partial sums the open-work features need."""
    spec, windows, long = ctx.spec, ctx.spec.windows_days, ctx.spec.long_window
    out: Columns = {}
    codes = contacts.index.keys // contacts.index.ranks.span
    opened = contacts.sort(ctx.opened)
    repeat = np.zeros(len(opened))
    if len(opened) > 1:
        same = codes[1:] == codes[:-1]
        # one customer's contacts are in time order: the gap is >= 0, exact in uint64
        gap = opened[1:].view(np.uint64) - opened[:-1].view(np.uint64)
        repeat[1:] = same & (gap <= spec.repeat_within_days * NS_DAY)
    repeats = contacts.totals(repeat)
    for w in windows:
        out[f"contacts_{w}d"] = contacts.count(w)
        out[f"repeat_contacts_{w}d"] = repeats[w]
    total = contacts.count()
    out["contacts_total"] = total
    has_contact = contacts.has_any
    last_opened = contacts.last_exact(opened, 0)
    out["days_since_last_contact"] = np.where(
        has_contact, elapsed(ctx.q_times, last_opened, NS_DAY), np.nan
    )
    first_opened = contacts.first_exact(opened, 0)
    out["days_since_first_contact"] = np.where(
        has_contact, elapsed(ctx.q_times, first_opened, NS_DAY), np.nan
    )
    channel_codes, channel_values = ctx.channels
    channel = contacts.sort(channel_codes)
    long_count = contacts.count(long)
    for ch in spec.channels:
        code = channel_values.get_loc(ch) if ch in channel_values else -1
        out[f"share_{ch}_{long}d"] = _ratio(contacts.total(channel == code, long), long_count)
    last_row = contacts.last_exact(contacts.index.order, -1)
    for column in ("channel", "category", "team", *spec.extra_categoricals):
        out[f"last_{column}"] = _text_at(ctx.interactions, column, last_row)
    first_resp = contacts.sort(np.where(ctx.responded_mask, ctx.first_resp, NEVER))
    last_fr = contacts.last_exact(first_resp, NEVER)
    waited_until = np.where(last_fr < ctx.q_times, last_fr, ctx.q_times)
    out["last_contact_response_wait_h"] = np.where(
        has_contact, elapsed(waited_until, last_opened, NS_HOUR), np.nan
    )
    carry: _ContactCarry = {
        "total": total,
        "opened_total": contacts.exact_total(offsets_from(opened, ctx.t0)),
        "last_agent": _text_at(ctx.interactions, "agent_id", last_row),
    }
    return out, carry


def _response_features(ctx: _Context) -> tuple[Columns, np.ndarray]:
    """First-answer delays, by first_response_at; and how many contacts got one before t."""
    windows, mask = ctx.spec.windows_days, ctx.responded_mask
    responses = _Stream(ctx.i_codes[mask], ctx.first_resp[mask], ctx.q_codes, ctx.q_times, windows)
    delay_h = responses.sort(elapsed(ctx.first_resp[mask], ctx.opened[mask], NS_HOUR))
    means = responses.means(delay_h)
    out: Columns = {f"mean_first_response_h_{w}d": means[w] for w in windows}
    for w in windows[1:]:
        out[f"max_first_response_h_{w}d"] = responses.extreme(delay_h, w, largest=True)
    return out, responses.count()


@dataclass(frozen=True)
class _Subset:
    """Some rows of an array, read only when asked (ties need a handful of ids, and copying
    millions of strings to get them would cost more than the whole look-up)."""

    array: Any
    rows: np.ndarray

    def take(self, positions: np.ndarray) -> Any:
        return self.array.take(self.rows.take(positions))


@dataclass(frozen=True)
class _Outcomes:
    """The outcome stream (by resolved_at) and, in its order, the interaction rows."""

    ctx: _Context
    stream: _Stream
    rows: np.ndarray

    def column(self, name: str) -> np.ndarray:
        frame = self.ctx.interactions
        if name not in frame:
            return np.full(len(self.rows), np.nan)
        return _floats(frame[name]).take(self.rows)

    def values(self, values: np.ndarray) -> np.ndarray:
        """Values given for every interaction, in stream order."""
        return values.take(self.rows)


def _outcome_stream(ctx: _Context) -> _Outcomes:
    mask = ctx.resolved_mask
    stream = _Stream(
        ctx.i_codes[mask],
        ctx.resolved[mask],
        ctx.q_codes,
        ctx.q_times,
        ctx.spec.windows_days,
        _Subset(ctx.interactions["interaction_id"].array, rows := np.flatnonzero(mask)),
    )
    return _Outcomes(ctx, stream, rows.take(stream.index.order))


def _outcome_volume(o: _Outcomes) -> tuple[Columns, _OutcomeCarry]:
    """Resolved contacts, first-contact resolution, escalations, transfers, reopens and the
    extra contacts they took; and the partial sums the open-work features need."""
    outcomes, windows = o.stream, o.ctx.spec.windows_days
    fcr = o.column("first_contact_resolved")
    failed = 1.0 - fcr
    escalated, transfers, reopened = (
        o.column("escalated"),
        o.column("transfers"),
        o.column("reopened"),
    )
    extra = np.clip(o.column("contacts") - 1, 0, None)
    sums = {
        name: outcomes.totals(values)
        for name, values in (
            ("failed", failed),
            ("escalated", escalated),
            ("transfers", transfers),
            ("reopened", reopened),
            ("extra", extra),
        )
    }
    fcr_rate = outcomes.means(fcr)
    out: Columns = {}
    for w in windows:
        out[f"resolved_{w}d"] = outcomes.count(w)
        out[f"fcr_rate_{w}d"] = fcr_rate[w]
        out[f"failed_fcr_{w}d"] = sums["failed"][w]
        out[f"escalations_{w}d"] = sums["escalated"][w]
        out[f"transfers_{w}d"] = sums["transfers"][w]
        out[f"reopened_{w}d"] = sums["reopened"][w]
        out[f"extra_contacts_{w}d"] = sums["extra"][w]
    out["escalations_total"] = sums["escalated"][None]
    out["last_resolved_failed_fcr"] = outcomes.last(failed)
    out["last_resolved_escalated"] = outcomes.last(escalated)
    out["last_resolved_transfers"] = outcomes.last(transfers)
    out["last_resolved_extra_contacts"] = outcomes.last(extra)
    out["last_resolved_reopened"] = outcomes.last(reopened)
    opened = o.values(offsets_from(o.ctx.opened, o.ctx.t0))
    return out, {"count": outcomes.count(), "opened_total": outcomes.exact_total(opened)}


def _outcome_quality(o: _Outcomes) -> Columns:
    """Resolution and handling times, sentiment, and where the last resolved contact was."""
    ctx, outcomes = o.ctx, o.stream
    windows, long = ctx.spec.windows_days, ctx.spec.long_window
    resolution_h = o.values(elapsed(ctx.resolved, ctx.opened, NS_HOUR))
    handle_min = o.column("handle_time_s") / 60.0
    sentiment = o.column("sentiment")
    resolution, handle = outcomes.means(resolution_h), outcomes.means(handle_min)
    sentiment_sum = prefix_sums(sentiment)
    sentiment_known = prefix_sums(~np.isnan(sentiment))

    def mean_sentiment(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return _ratio(window_sum(sentiment_sum, lo, hi), window_sum(sentiment_known, lo, hi))

    out: Columns = {}
    for w in windows:
        out[f"mean_resolution_h_{w}d"] = resolution[w]
        out[f"mean_sentiment_{w}d"] = mean_sentiment(outcomes.lo[w], outcomes.hi)
    for w in windows[1:]:
        out[f"max_resolution_h_{w}d"] = outcomes.extreme(resolution_h, w, largest=True)
        out[f"mean_handle_time_min_{w}d"] = handle[w]
        out[f"min_sentiment_{w}d"] = outcomes.extreme(sentiment, w, largest=False)
    out["last_resolved_resolution_h"] = outcomes.last(resolution_h)
    first_resp_h = np.where(
        ctx.responded_mask, elapsed(ctx.first_resp, ctx.opened, NS_HOUR), np.nan
    )
    out["last_resolved_first_response_h"] = outcomes.last(o.values(first_resp_h))
    last_row = outcomes.last_exact(o.rows, -1)
    out["last_resolved_channel"] = _text_at(ctx.interactions, "channel", last_row)
    out["last_resolved_team"] = _text_at(ctx.interactions, "team", last_row)
    out["last_sentiment"] = outcomes.last(sentiment)
    recent = windows[1] if len(windows) > 1 else windows[0]
    older = mean_sentiment(outcomes.lo[long], outcomes.lo[recent])
    out["sentiment_trend"] = mean_sentiment(outcomes.lo[recent], outcomes.hi) - older
    return out


def _answer_features(surveys: pd.DataFrame, s_codes: np.ndarray, ctx: _Context) -> Columns:
    """Earlier survey answers, by responded_at."""
    responded = _ns(surveys["responded_at"])
    answers = _Stream(
        s_codes, responded, ctx.q_codes, ctx.q_times, (), surveys["response_id"].array
    )
    detractor = ctx.spec.scale.is_detractor(surveys["score"])
    last_answer = answers.last_exact(answers.sort(responded), 0)
    return {
        "prior_surveys": answers.count(),
        "prior_detractor_answers": answers.total(
            answers.sort(detractor.to_numpy(dtype=np.float64, na_value=0.0))
        ),
        "last_score": answers.last(answers.sort(_floats(surveys["score"]))),
        "days_since_last_survey": np.where(
            answers.has_any, elapsed(ctx.q_times, last_answer, NS_DAY), np.nan
        ),
    }


def _customer_features(
    customers: pd.DataFrame, c_codes: np.ndarray, n_codes: int, ctx: _Context
) -> Columns:
    """Segment, plan, region and tenure; the first row of a duplicated id wins."""
    row_of = np.full(n_codes + 1, -1, dtype=np.int64)
    row_of[c_codes[::-1]] = np.arange(len(c_codes) - 1, -1, -1)
    rows = row_of[ctx.q_codes]
    out: Columns = {
        name: pd.Series(customers[name].astype("str").array.take(rows, allow_fill=True))
        for name in ("segment", "plan", "region")
    }
    signup = _ns(customers["signup_at"]).astype(np.float64)
    signup[customers["signup_at"].isna().to_numpy()] = np.nan
    signup = np.where(rows >= 0, signup.take(np.maximum(rows, 0)) if len(signup) else 0, np.nan)
    out["tenure_days"] = np.where(signup < ctx.q_times, (ctx.q_times - signup) / NS_DAY, np.nan)
    return out


def _text_at(interactions: pd.DataFrame, column: str, rows: np.ndarray) -> pd.Series:
    """The column's text at these interaction rows (missing where the row is -1): only the
    rows asked for are read, so no column of 10M strings is ever hashed."""
    if column not in interactions:
        return pd.Series([None] * len(rows), dtype="str")
    return pd.Series(interactions[column].array.take(rows, allow_fill=True)).astype("str")


def _one_code_space(
    main: tuple[np.ndarray, Any], other: tuple[np.ndarray, Any], sizes: list[int]
) -> tuple[np.ndarray, int, list[np.ndarray]]:
    """Customer codes of the interactions and of the other tables (factorized apart, so on
    two cores) in one code space; -1 stays missing. Returns the number of codes too."""
    main_codes, main_ids = main
    other_codes, other_ids = other
    position = pd.Index(main_ids).get_indexer(pd.Index(other_ids))
    new = position < 0
    position[new] = len(main_ids) + np.arange(int(new.sum()))
    mapped = np.where(other_codes >= 0, position.take(np.maximum(other_codes, 0)), -1)
    bounds = np.cumsum([0, *sizes])
    parts = [mapped[a:b] for a, b in pairwise(bounds)]
    return main_codes, len(main_ids) + int(new.sum()), parts


def _executor(rows: int, workers: int) -> Executor:
    """``workers`` threads in all (the caller is one), none on small inputs."""
    workers = workers_for(rows, workers)
    if workers <= 1:
        return Inline()
    return ThreadPoolExecutor(max_workers=workers - 1, thread_name_prefix="features")


def compute_features(
    interactions: pd.DataFrame,
    surveys: pd.DataFrame,
    customers: pd.DataFrame,
    queries: pd.DataFrame,
    spec: FeatureSpec,
    history: pd.DataFrame | HistoryTotals | None = None,
    *,
    workers: int = 1,
) -> pd.DataFrame:
    """Feature rows for ``queries`` (customer_id, as_of), in the queries' order and index.

    ``history`` is the agent/team survey history (see ``agent_history``); by default it is
    derived from ``interactions`` and ``surveys``. The online path passes the service's;
    the live path ``HistoryTotals`` counted in the database (all queries at one time).
    ``workers`` threads share the work on large inputs (``Settings.threads``); the result
    does not depend on it.
    """
    _refuse_missing_times(queries)
    with _executor(len(interactions), workers) as pool:
        others = [queries["customer_id"], surveys["customer_id"], customers["customer_id"]]
        other_codes = pool.submit(pd.factorize, pd.concat(others, ignore_index=True))
        channels = pool.submit(_factorized, interactions["channel"])
        if history is None:
            history_task = pool.submit(agent_history, interactions, surveys, customers, spec)
        i_codes, n_codes, (q_codes, s_codes, c_codes) = _one_code_space(
            pd.factorize(interactions["customer_id"]),
            other_codes.result(),
            [len(o) for o in others],
        )
        # Every feature is computed for the queries sorted by (customer, time), so each
        # look-up walks the sorted events once; rows go back to the queries' order at the end.
        q_times = _ns(queries["as_of"])
        q_order = np.lexsort((q_times, q_codes))
        opened = _ns(interactions["opened_at"])
        ctx = _Context(
            interactions=interactions,
            spec=spec,
            i_codes=i_codes,
            q_codes=q_codes.take(q_order),
            q_times=q_times.take(q_order),
            opened=opened,
            first_resp=_ns(interactions["first_response_at"]),
            resolved=_ns(interactions["resolved_at"]),
            responded_mask=interactions["first_response_at"].notna().to_numpy(),
            resolved_mask=interactions["resolved_at"].notna().to_numpy(),
            channels=channels.result(),
            t0=int(opened.min()) if len(opened) else 0,
        )
        outcome_stream = pool.submit(_outcome_stream, ctx)
        responses = pool.submit(_response_features, ctx)
        contact_stream = _contact_stream(ctx)
        answers = pool.submit(_answer_features, surveys, s_codes, ctx)
        attributes = pool.submit(_customer_features, customers, c_codes, n_codes, ctx)
        quality = pool.submit(lambda: _outcome_quality(outcome_stream.result()))
        out, contacts = _contact_features(ctx, contact_stream)
        volume, outcome_carry = _outcome_volume(outcome_stream.result())
        out |= volume | quality.result() | answers.result() | attributes.result()
        response_out, responded = responses.result()
        out |= response_out
        if history is None:
            history = history_task.result()

    # --- open work at t: contacts opened before t minus those answered / resolved before t
    open_now = contacts["total"] - outcome_carry["count"]
    out["open_tickets"] = open_now
    # both totals are exact integers, so the open tickets' sum is exact whatever came before
    high, low = (
        c - o for c, o in zip(contacts["opened_total"], outcome_carry["opened_total"], strict=True)
    )
    mean_opened = _ratio(high * float(_SPLIT) + low, open_now)
    q_ns = elapsed(ctx.q_times, ctx.t0, 1)
    out["open_ticket_mean_age_h"] = np.where(open_now > 0, (q_ns - mean_opened) / NS_HOUR, 0.0)
    out["awaiting_first_response"] = contacts["total"] - responded

    # --- agent and team history: their Detractor share on answers before t
    last_agent, last_team = contacts["last_agent"], out["last_team"]
    assert isinstance(last_team, pd.Series)  # set by _text_at
    if isinstance(history, HistoryTotals):
        if len(np.unique(ctx.q_times)) > 1:
            raise ValueError("HistoryTotals hold counts before one time: query one as_of")
        overall = np.full(
            len(ctx.q_times), history.detractors / history.answers if history.answers else np.nan
        )
        agent = _looked_up(history.agents, last_agent)
        team = _looked_up(history.teams, last_team)
    else:
        everyone = _Stream(
            np.zeros(len(history), dtype=np.int64),
            _ns(history["responded_at"]),
            np.zeros(len(ctx.q_times), dtype=np.int64),
            ctx.q_times,
            (),
        )
        detractors = everyone.total(everyone.sort(history["is_detractor"].to_numpy(np.float64)))
        overall = _ratio(detractors, everyone.count())
        agent = _counted(history, "agent_id", last_agent, ctx.q_times)
        team = _counted(history, "team", last_team, ctx.q_times)
    weight = spec.agent_prior_weight
    out["last_agent_detractor_rate"] = _shrunk(*agent, overall, weight)
    out["last_agent_prior_surveys"] = agent[0]
    out["last_team_detractor_rate"] = _shrunk(*team, overall, weight)

    catalog = feature_catalog(spec)
    back = np.empty(len(q_order), dtype=np.int64)
    back[q_order] = np.arange(len(q_order))  # sorted position of each query
    columns = {name: _as_column(out[name], catalog[name].kind, back) for name in catalog}
    # one block per column: no copy into a consolidated 2-D block for a million rows
    return pd.DataFrame(columns, index=queries.index, copy=False)


def _refuse_missing_times(queries: pd.DataFrame) -> None:
    """A query without a time (NaT) has no "before": refused, never answered as empty."""
    missing = queries["as_of"].isna().to_numpy()
    if missing.any():
        k = int(np.flatnonzero(missing)[0])
        raise InvalidTimeError(
            f"{int(missing.sum())} of {len(queries)} queries have no as_of (NaT), the first "
            f"for customer {queries['customer_id'].iloc[k]!r} (row {k}); give every query a time"
        )


def _as_column(values: np.ndarray | pd.Series, kind: str, back: np.ndarray) -> Any:
    """The column in the queries' own order."""
    if kind == "categorical":
        return pd.Series(values).astype("str").array.take(back)
    return np.asarray(values, dtype=np.float64).take(back)
