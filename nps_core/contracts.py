"""The input tables as code: one owner for column names, kinds and which are required.

Kinds: ``str``, ``timestamp`` (UTC), ``float``, ``int``, ``bool``. Readers cast to these;
feature code relies on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from nps_core.errors import SchemaError

ColumnKind = Literal["str", "timestamp", "float", "int", "bool"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind
    required: bool
    description: str


@dataclass(frozen=True)
class TableContract:
    name: str
    key: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if not c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(
            f"table '{self.name}' has no column '{name}'; columns: {', '.join(self.names)}"
        )

    def of_kind(self, kind: ColumnKind) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.kind == kind)


INTERACTIONS = TableContract(
    name="interactions",
    key="interaction_id",
    columns=(
        Column("interaction_id", "str", True, "id of the support contact or ticket"),
        Column("customer_id", "str", True, "who contacted us"),
        Column(
            "channel", "str", True, "chat, email, phone, social, ... (normalised to lower case)"
        ),
        Column("opened_at", "timestamp", True, "when the contact was opened"),
        Column("first_response_at", "timestamp", False, "first answer from an agent"),
        Column("resolved_at", "timestamp", False, "resolution time; null means still open"),
        Column("handle_time_s", "float", False, "agent handling time, seconds"),
        Column("contacts", "int", False, "customer contacts spent on this issue"),
        Column("first_contact_resolved", "bool", False, "resolved at the first contact"),
        Column("escalated", "bool", False, "escalated to a higher tier"),
        Column("reopened", "bool", False, "reopened after being resolved"),
        Column("transfers", "int", False, "transfers between agents or teams"),
        Column("sentiment", "float", False, "customer sentiment in [-1, 1]"),
        Column("agent_id", "str", False, "agent who handled it"),
        Column("team", "str", False, "team that owned it"),
        Column("category", "str", False, "what the contact was about"),
    ),
)

SURVEYS = TableContract(
    name="surveys",
    key="response_id",
    columns=(
        Column("response_id", "str", True, "id of the survey answer"),
        Column("customer_id", "str", True, "who answered"),
        Column("responded_at", "timestamp", True, "when the answer was given"),
        Column("score", "int", True, "the answer on the configured scale (NPS 0-10 by default)"),
        Column("comment", "str", False, "open-text reason; known only after the survey"),
        Column("interaction_id", "str", False, "the ticket that triggered the survey"),
        Column("channel", "str", False, "channel the survey was about"),
    ),
)

CUSTOMERS = TableContract(
    name="customers",
    key="customer_id",
    columns=(
        Column("customer_id", "str", True, "the customer"),
        Column("segment", "str", False, "business segment, e.g. enterprise, smb, consumer"),
        Column("plan", "str", False, "plan or product tier"),
        Column("region", "str", False, "region"),
        Column("signup_at", "timestamp", False, "when the customer started"),
        Column("is_internal", "bool", False, "internal or test account: never counted"),
        Column("churned_at", "timestamp", False, "when the customer left, if they did"),
    ),
)

CONTRACTS: dict[str, TableContract] = {c.name: c for c in (INTERACTIONS, SURVEYS, CUSTOMERS)}
REQUIRED_TABLES = (INTERACTIONS.name, SURVEYS.name)  # customers is optional

# Spellings seen in helpdesk exports, mapped to one channel name each.
CHANNEL_ALIASES: dict[str, str] = {
    "e-mail": "email",
    "mail": "email",
    "ticket": "email",
    "web form": "email",
    "webform": "email",
    "live chat": "chat",
    "livechat": "chat",
    "messaging": "chat",
    "whatsapp": "chat",
    "call": "phone",
    "voice": "phone",
    "telephone": "phone",
    "twitter": "social",
    "facebook": "social",
    "x": "social",
}

# The pandas dtype strings each kind is cast to; a Literal so pandas' typed astype/array apply.
KindDtype = Literal["str", "datetime64[ns, UTC]", "float64", "Int64", "boolean"]

KIND_DTYPES: dict[ColumnKind, KindDtype] = {
    "str": "str",
    "timestamp": "datetime64[ns, UTC]",
    "float": "float64",
    "int": "Int64",
    "bool": "boolean",
}


def dtype_of(contract: TableContract, column: str) -> KindDtype:
    return KIND_DTYPES[contract.column(column).kind]


def conform(frame: pd.DataFrame, contract: TableContract) -> pd.DataFrame:
    """Contract columns first, in canonical dtypes; absent optional columns added empty.

    Values must already be valid (this casts, it does not validate); extra columns are kept
    after the contract's.
    """
    missing = [c for c in contract.required if c not in frame.columns]
    if missing:
        raise SchemaError(f"missing required column(s) {missing}", column=missing[0])
    columns: dict[str, pd.Series] = {}
    for col in contract.columns:
        dtype = KIND_DTYPES[col.kind]
        if col.name not in frame.columns:
            columns[col.name] = pd.Series(
                pd.array([None] * len(frame), dtype=dtype), index=frame.index
            )
        elif col.kind == "timestamp":
            columns[col.name] = pd.to_datetime(frame[col.name], utc=True).dt.as_unit("ns")
        else:
            columns[col.name] = frame[col.name].astype(dtype)
    extras = {c: frame[c] for c in frame.columns if c not in contract.names}
    return pd.DataFrame({**columns, **extras}, index=frame.index)
