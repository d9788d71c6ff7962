"""Survey answers with the context NPS is reported by (channel, team, segment, region, plan)."""

from __future__ import annotations

import pandas as pd

from features.rows import internal_ids


def answers_with_context(
    interactions: pd.DataFrame, surveys: pd.DataFrame, customers: pd.DataFrame
) -> pd.DataFrame:
    """Internal and test accounts never count. Team and channel come from the ticket that
    triggered the answer (the survey's own channel first, when it has one)."""
    tickets = (
        interactions[["interaction_id", "team", "channel"]]
        .drop_duplicates("interaction_id")
        .rename(columns={"channel": "ticket_channel"})
    )
    answers = surveys[~surveys["customer_id"].isin(internal_ids(customers))]
    joined = answers.merge(tickets, on="interaction_id", how="left").merge(
        customers[["customer_id", "segment", "region", "plan"]].drop_duplicates("customer_id"),
        on="customer_id",
        how="left",
    )
    return joined.assign(channel=joined["channel"].fillna(joined["ticket_channel"])).drop(
        columns="ticket_channel"
    )
