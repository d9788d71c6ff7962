"""Point-in-time features: one row per (customer, as_of), from what was known before as_of.

What becomes known when (the contract of this module):
- a contact exists from ``opened_at``; its channel, topic, team and agent with it;
- its first-answer delay from ``first_response_at``;
- its outcome (resolution time, first-contact resolution, escalation, transfers, reopen,
  extra contacts, handling time, sentiment) from ``resolved_at``: a ticket resolved at or
  after t was open at t and its outcome is unknown;
- a survey answer from ``responded_at``.
"Before t" is strict everywhere; windows are [t - w, t). Each stream is indexed once by
(customer, time) and every window is a difference of prefix sums (see ``timeindex``).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from features.catalog import FeatureSpec, feature_catalog
from features.timeindex import EventIndex, last_value, window_extreme, window_sum

NS_HOUR = 3_600 * 10**9
NS_DAY = 24 * NS_HOUR
AGENT_HISTORY_COLUMNS = ("responded_at", "agent_id", "team", "is_detractor")


def _ns(series: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 nanoseconds (NaT -> int64 min; mask with isna())."""
    return series.dt.as_unit("ns").to_numpy(dtype="datetime64[ns]").view(np.int64)


def _floats(series: pd.Series) -> np.ndarray:
    return series.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)


def _factorized(series: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Float codes (NaN for missing) and the distinct values, without Python string objects."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    out = codes.astype(np.float64)
    out[codes < 0] = np.nan
    return out, pd.Index(uniques)


def _decode(codes: np.ndarray, uniques: pd.Index) -> pd.Series:
    ints = np.where(np.isnan(codes), -1, codes).astype(np.int64)
    return pd.Series(uniques.astype("str").array.take(ints, allow_fill=True))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


class _Stream:
    """Events of one kind for the queries: positions of every window bound, computed once."""

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
        self.lo = {w: self.index.before(q_codes, q_times - w * NS_DAY) for w in windows}

    def count(self, w: int | None = None) -> np.ndarray:
        lo = self.start if w is None else self.lo[w]
        return (self.hi - lo).astype(np.float64)

    def total(self, values: np.ndarray, w: int | None = None) -> np.ndarray:
        lo = self.start if w is None else self.lo[w]
        return window_sum(self.index.cumsum(values), lo, self.hi)

    def totals(self, values: np.ndarray) -> dict[int | None, np.ndarray]:
        """Sums over every window (and all history, key None) from one prefix sum."""
        prefix = self.index.cumsum(values)
        out: dict[int | None, np.ndarray] = {
            w: window_sum(prefix, lo, self.hi) for w, lo in self.lo.items()
        }
        out[None] = window_sum(prefix, self.start, self.hi)
        return out

    def means(self, values: np.ndarray) -> dict[int | None, np.ndarray]:
        sums, known = self.totals(values), self.totals((~np.isnan(values)).astype(np.float64))
        return {w: _ratio(sums[w], known[w]) for w in sums}

    def mean(self, values: np.ndarray, w: int | None = None) -> np.ndarray:
        return self.means(values)[w]

    def extreme(self, values: np.ndarray, w: int, *, largest: bool) -> np.ndarray:
        return window_extreme(
            self.index.sorted_values(values), self.lo[w], self.hi, largest=largest
        )

    def last(self, values: np.ndarray) -> np.ndarray:
        return last_value(self.index.sorted_values(values), self.start, self.hi)

    @property
    def has_any(self) -> np.ndarray:
        return self.hi > self.start

    def last_exact(self, values: np.ndarray, missing: int) -> np.ndarray:
        """Latest event's int64 value before t (exact, no float rounding), ``missing`` if none."""
        if len(self.index) == 0:
            return np.full(len(self.hi), missing, dtype=np.int64)
        taken = self.index.sorted_values(values)[np.maximum(self.hi - 1, 0)]
        return np.where(self.has_any, taken, missing)

    def first_exact(self, values: np.ndarray, missing: int) -> np.ndarray:
        if len(self.index) == 0:
            return np.full(len(self.hi), missing, dtype=np.int64)
        taken = self.index.sorted_values(values)[np.minimum(self.start, len(self.index) - 1)]
        return np.where(self.has_any, taken, missing)


def agent_history(
    interactions: pd.DataFrame, surveys: pd.DataFrame, spec: FeatureSpec
) -> pd.DataFrame:
    """Surveys with the agent and team of the ticket that triggered them (for agent/team rates)."""
    tickets = interactions[["interaction_id", "opened_at", "agent_id", "team"]]
    # one factorize of both id columns, then an integer map: no string hash table per call
    codes, uniques = pd.factorize(
        pd.concat([tickets["interaction_id"], surveys["interaction_id"]], ignore_index=True)
    )
    ticket_codes, survey_codes = codes[: len(tickets)], codes[len(tickets) :]
    position_of = np.full(len(uniques) + 1, -1, dtype=np.int64)
    position_of[ticket_codes[::-1]] = np.arange(len(tickets) - 1, -1, -1)  # first occurrence wins
    position = np.where(survey_codes >= 0, position_of[survey_codes], -1)
    found = position >= 0
    linked = pd.concat(
        [
            surveys.loc[found, ["responded_at", "score"]].reset_index(drop=True),
            tickets.iloc[position[found]][["opened_at", "agent_id", "team"]].reset_index(drop=True),
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


def _smoothed_rate(
    history: pd.DataFrame,
    key: str,
    q_keys: pd.Series,
    q_times: np.ndarray,
    prior_rate: np.ndarray,
    weight: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Detractor share of each key's surveys before t, shrunk toward the overall share."""
    known = history[history[key].notna()]
    codes, _ = pd.factorize(
        pd.concat([known[key].astype("str"), q_keys.astype("str")], ignore_index=True)
    )
    ev_codes, q_codes_raw = codes[: len(known)], codes[len(known) :]
    has_key = q_codes_raw >= 0
    q_codes = np.where(has_key, q_codes_raw, 0).astype(np.int64)
    stream = _Stream(ev_codes, _ns(known["responded_at"]), q_codes, q_times, ())
    n = np.where(has_key, stream.count(), np.nan)
    detractors = np.where(has_key, stream.total(known["is_detractor"].to_numpy(np.float64)), np.nan)
    prior = np.nan_to_num(prior_rate, nan=0.0)
    rate = (detractors + weight * prior) / (n + weight)
    rate[np.isnan(prior_rate) & (n == 0)] = np.nan
    return rate, n


def compute_features(
    interactions: pd.DataFrame,
    surveys: pd.DataFrame,
    customers: pd.DataFrame,
    queries: pd.DataFrame,
    spec: FeatureSpec,
    history: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Feature rows for ``queries`` (customer_id, as_of), in the queries' order and index.

    ``history`` is the agent/team survey history (see ``agent_history``); by default it is
    derived from ``interactions`` and ``surveys``. The online path passes the service's.
    """
    if history is None:
        history = agent_history(interactions, surveys, spec)
    windows = spec.windows_days
    long = spec.long_window
    all_ids = pd.concat(
        [
            queries["customer_id"],
            interactions["customer_id"],
            surveys["customer_id"],
            customers["customer_id"],
        ],
        ignore_index=True,
    )
    all_codes, _ = pd.factorize(all_ids)
    bounds = np.cumsum([0, len(queries), len(interactions), len(surveys), len(customers)])
    q_codes, i_codes, s_codes, c_codes = (all_codes[a:b] for a, b in pairwise(bounds))
    # Every feature is computed for the queries sorted by (customer, time), so each look-up
    # walks the sorted events once; rows go back to the queries' order at the end.
    q_times = _ns(queries["as_of"])
    q_order = np.lexsort((q_times, q_codes))
    q_codes, q_times = q_codes.take(q_order), q_times.take(q_order)
    out: dict[str, np.ndarray | pd.Series] = {}

    opened = _ns(interactions["opened_at"])
    opened_h = (opened - (opened.min() if len(opened) else 0)) / NS_HOUR
    t0 = opened.min() if len(opened) else 0
    q_h = (q_times - t0) / NS_HOUR

    # --- contacts, by opened_at --------------------------------------------------------
    interaction_ids = interactions["interaction_id"].array
    contacts = _Stream(i_codes, opened, q_codes, q_times, windows, interaction_ids)
    sorted_codes = contacts.index.sorted_values(i_codes)
    sorted_opened = contacts.index.sorted_values(opened)
    repeat_sorted = np.zeros(len(sorted_opened))
    if len(sorted_opened) > 1:
        same = sorted_codes[1:] == sorted_codes[:-1]
        gap = sorted_opened[1:] - sorted_opened[:-1]
        repeat_sorted[1:] = same & (gap <= spec.repeat_within_days * NS_DAY)
    repeat = np.empty_like(repeat_sorted)
    repeat[contacts.index.order] = repeat_sorted
    for w in windows:
        out[f"contacts_{w}d"] = contacts.count(w)
        out[f"repeat_contacts_{w}d"] = contacts.total(repeat, w)
    total_contacts = contacts.count()
    out["contacts_total"] = total_contacts
    has_contact = contacts.has_any
    last_opened = contacts.last_exact(opened, 0)
    out["days_since_last_contact"] = np.where(has_contact, (q_times - last_opened) / NS_DAY, np.nan)
    first_opened = contacts.first_exact(opened, 0)
    out["days_since_first_contact"] = np.where(
        has_contact, (q_times - first_opened) / NS_DAY, np.nan
    )
    extras = [c for c in spec.extra_categoricals]
    factorized = {
        column: _factorized(
            interactions[column]
            if column in interactions
            else pd.Series([None] * len(interactions), dtype="str")
        )
        for column in ("channel", "category", "team", "agent_id", *extras)
    }
    channel_codes, channel_values = factorized["channel"]
    long_count = contacts.count(long)
    for ch in spec.channels:
        is_ch = channel_codes == (channel_values.get_loc(ch) if ch in channel_values else -1)
        out[f"share_{ch}_{long}d"] = _ratio(
            contacts.totals(is_ch.astype(np.float64))[long], long_count
        )
    categorical_last: list[tuple[str, str]] = [
        ("last_channel", "channel"),
        ("last_category", "category"),
        ("last_team", "team"),
        *((f"last_{extra}", extra) for extra in extras),
    ]
    for name, column in categorical_last:
        codes, uniques = factorized[column]
        out[name] = _decode(contacts.last(codes), uniques)

    # --- open work at t: contacts opened before t minus those answered / resolved before t -
    responded_mask = interactions["first_response_at"].notna().to_numpy()
    resolved_mask = interactions["resolved_at"].notna().to_numpy()
    first_resp = _ns(interactions["first_response_at"])
    resolved = _ns(interactions["resolved_at"])
    responses = _Stream(
        i_codes[responded_mask], first_resp[responded_mask], q_codes, q_times, windows
    )
    outcomes = _Stream(
        i_codes[resolved_mask],
        resolved[resolved_mask],
        q_codes,
        q_times,
        windows,
        interaction_ids[resolved_mask],
    )
    open_now = total_contacts - outcomes.count()
    out["open_tickets"] = open_now
    open_opened_h = contacts.total(opened_h) - outcomes.total(opened_h[resolved_mask])
    out["open_ticket_mean_age_h"] = np.where(
        open_now > 0, q_h - _ratio(open_opened_h, open_now), 0.0
    )
    out["awaiting_first_response"] = total_contacts - responses.count()
    never = np.iinfo(np.int64).max
    last_fr = contacts.last_exact(np.where(responded_mask, first_resp, never), never)
    waited_until = np.where(last_fr < q_times, last_fr, q_times)
    out["last_contact_response_wait_h"] = np.where(
        has_contact, (waited_until - last_opened) / NS_HOUR, np.nan
    )

    # --- first answers, by first_response_at ----------------------------------------------
    delay_h = ((first_resp - opened) / NS_HOUR)[responded_mask]
    for w in windows:
        out[f"mean_first_response_h_{w}d"] = responses.mean(delay_h, w)
    for w in windows[1:]:
        out[f"max_first_response_h_{w}d"] = responses.extreme(delay_h, w, largest=True)

    # --- outcomes, by resolved_at ---------------------------------------------------------
    def col(name: str, transform: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
        values = (
            _floats(interactions[name])[resolved_mask]
            if name in interactions
            else np.full(int(resolved_mask.sum()), np.nan)
        )
        return transform(values) if transform else values

    fcr = col("first_contact_resolved")
    failed = np.where(np.isnan(fcr), np.nan, 1.0 - fcr)
    escalated = col("escalated")
    transfers = col("transfers")
    reopened = col("reopened")
    extra = col("contacts", lambda v: np.clip(v - 1, 0, None))
    resolution_h = ((resolved - opened) / NS_HOUR)[resolved_mask]
    handle_min = col("handle_time_s", lambda v: v / 60.0)
    sentiment = col("sentiment")
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
    means = {
        name: outcomes.means(values)
        for name, values in (
            ("fcr", fcr),
            ("resolution", resolution_h),
            ("sentiment", sentiment),
            ("handle", handle_min),
        )
    }
    for w in windows:
        out[f"resolved_{w}d"] = outcomes.count(w)
        out[f"fcr_rate_{w}d"] = means["fcr"][w]
        out[f"failed_fcr_{w}d"] = sums["failed"][w]
        out[f"escalations_{w}d"] = sums["escalated"][w]
        out[f"transfers_{w}d"] = sums["transfers"][w]
        out[f"reopened_{w}d"] = sums["reopened"][w]
        out[f"extra_contacts_{w}d"] = sums["extra"][w]
        out[f"mean_resolution_h_{w}d"] = means["resolution"][w]
        out[f"mean_sentiment_{w}d"] = means["sentiment"][w]
    for w in windows[1:]:
        out[f"max_resolution_h_{w}d"] = outcomes.extreme(resolution_h, w, largest=True)
        out[f"mean_handle_time_min_{w}d"] = means["handle"][w]
        out[f"min_sentiment_{w}d"] = outcomes.extreme(sentiment, w, largest=False)
    out["escalations_total"] = sums["escalated"][None]
    out["last_resolved_failed_fcr"] = outcomes.last(failed)
    out["last_resolved_escalated"] = outcomes.last(escalated)
    out["last_resolved_transfers"] = outcomes.last(transfers)
    out["last_resolved_extra_contacts"] = outcomes.last(extra)
    out["last_resolved_reopened"] = outcomes.last(reopened)
    out["last_resolved_resolution_h"] = outcomes.last(resolution_h)
    first_resp_h = np.where(responded_mask, (first_resp - opened) / NS_HOUR, np.nan)[resolved_mask]
    out["last_resolved_first_response_h"] = outcomes.last(first_resp_h)
    for name, column in (("last_resolved_channel", "channel"), ("last_resolved_team", "team")):
        codes, uniques = factorized[column]
        out[name] = _decode(outcomes.last(codes[resolved_mask]), uniques)
    out["last_sentiment"] = outcomes.last(sentiment)
    recent = windows[1] if len(windows) > 1 else windows[0]
    known_sent = (~np.isnan(sentiment)).astype(np.float64)
    cs_sent, cs_known = outcomes.index.cumsum(sentiment), outcomes.index.cumsum(known_sent)
    older = _ratio(
        window_sum(cs_sent, outcomes.lo[long], outcomes.lo[recent]),
        window_sum(cs_known, outcomes.lo[long], outcomes.lo[recent]),
    )
    out["sentiment_trend"] = means["sentiment"][recent] - older

    # --- earlier answers, by responded_at ---------------------------------------------------
    answers = _Stream(
        s_codes, _ns(surveys["responded_at"]), q_codes, q_times, (), surveys["response_id"].array
    )
    scores = _floats(surveys["score"])
    out["prior_surveys"] = answers.count()
    out["prior_detractor_answers"] = answers.total(
        spec.scale.is_detractor(surveys["score"]).to_numpy(dtype=np.float64, na_value=0.0)
    )
    out["last_score"] = answers.last(scores)
    last_answer = answers.last_exact(_ns(surveys["responded_at"]), 0)
    out["days_since_last_survey"] = np.where(
        answers.has_any, (q_times - last_answer) / NS_DAY, np.nan
    )

    # --- agent and team history -------------------------------------------------------------
    everyone = _Stream(
        np.zeros(len(history), dtype=np.int64),
        _ns(history["responded_at"]),
        np.zeros(len(q_times), dtype=np.int64),
        q_times,
        (),
    )
    overall = _ratio(everyone.total(history["is_detractor"].to_numpy(np.float64)), everyone.count())
    agent_codes, agent_uniques = factorized["agent_id"]
    last_agent = _decode(contacts.last(agent_codes), agent_uniques)
    rate, n = _smoothed_rate(
        history, "agent_id", last_agent, q_times, overall, spec.agent_prior_weight
    )
    out["last_agent_detractor_rate"], out["last_agent_prior_surveys"] = rate, n
    team_rate, _ = _smoothed_rate(
        history, "team", out["last_team"], q_times, overall, spec.agent_prior_weight
    )  # type: ignore[arg-type]
    out["last_team_detractor_rate"] = team_rate

    # --- the customer ----------------------------------------------------------------------
    row_of = np.full(len(all_codes) + 1, -1, dtype=np.int64)
    row_of[c_codes[::-1]] = np.arange(len(c_codes) - 1, -1, -1)  # the first row of an id wins
    rows = row_of[q_codes]
    for name in ("segment", "plan", "region"):
        out[name] = pd.Series(customers[name].astype("str").array.take(rows, allow_fill=True))
    signup = _ns(customers["signup_at"]).astype(np.float64)
    signup[customers["signup_at"].isna().to_numpy()] = np.nan
    signup = np.where(rows >= 0, signup.take(np.maximum(rows, 0)) if len(signup) else 0, np.nan)
    out["tenure_days"] = np.where(signup < q_times, (q_times - signup) / NS_DAY, np.nan)

    catalog = feature_catalog(spec)
    frame = pd.DataFrame({name: _as_column(out[name], catalog[name].kind) for name in catalog})
    back = np.empty(len(q_order), dtype=np.int64)
    back[q_order] = np.arange(len(q_order))
    frame = frame.take(back)
    frame.index = queries.index
    return frame


def _as_column(values: np.ndarray | pd.Series, kind: str) -> pd.Series:
    if kind == "categorical":
        return pd.Series(values).reset_index(drop=True).astype("str")
    return pd.Series(np.asarray(values, dtype=np.float64))
