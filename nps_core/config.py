"""One typed settings object, read from the environment (NPS_RISK_*) and an optional TOML file.

The file is named by NPS_RISK_CONFIG. Relative paths are resolved against ``home``, which is
the project folder when running from a checkout, so data, outputs and MLflow state land in
the same place whatever the working directory.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _default_home() -> Path:
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "nps_core").is_dir():
        return checkout
    return Path.cwd()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NPS_RISK_", extra="ignore", frozen=True, populate_by_name=True
    )

    home: Path = Field(default_factory=_default_home)
    data_dir: Path = Path("data")
    outputs_dir: Path = Path("outputs")
    mlruns_dir: Path = Path("mlruns")
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "NPS_RISK_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI", "mlflow_tracking_uri"
        ),
        description="an MLflow server or store instead of the embedded SQLite one; read once, here",
        repr=False,  # may hold a password
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the risk-list store; SQLite under data/ if unset",
        repr=False,  # may hold a password
    )
    data_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database source the live routes read and events "
        "write; unset: no live routes (`nps-risk load` fills source_url)",
    )
    model_name: str = "nps-detractor"
    registry_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="how long a registry may take to answer before the last good local copy "
        "serves (the API's start, each reachability check)",
    )
    registry_retry_max_s: float = Field(
        default=60.0,
        gt=0,
        description="the API retries an unreachable registry in the background, backing off "
        "to at most this long between tries",
    )
    feature_lag_s: float = Field(
        default=0.0, ge=0, description="training rows are computed this long before the answer"
    )
    daily_capacity: int = Field(default=50, gt=0, description="outreach calls a team makes per day")
    train_treated: Literal["exclude", "include"] = Field(
        default="exclude",
        description="training rows answered after our own outreach: left out (the model "
        "learns untreated risk) or included",
    )
    treated_lookback_days: int = Field(
        default=90, gt=0, description="an answer counts as treated if we called this recently"
    )
    control_share: float = Field(default=0.10, ge=0, lt=1)
    industry: str | None = Field(
        default=None,
        description="the industry whose typical NPS range reports show beside the score "
        "(a key of nps_core.industry.INDUSTRIES, e.g. saas); unset: none",
    )
    experiment_period: str = Field(
        default="Q",
        description="how long a control assignment holds: a pandas period alias (Q: a calendar "
        "quarter, M: a month); the period's label (e.g. 2026Q2) is hashed with the customer id",
    )
    predicted_follow_up_hours: float = Field(
        default=72.0,
        gt=0,
        description="a predicted-risk follow-up is due this long after the daily run that "
        "opened it (a Detractor answer's is due 24 hours after the answer)",
    )
    promotion_auc_margin: float = Field(
        default=0.01,
        ge=0,
        lt=0.5,
        description="promote only if the challenger is not worse than the champion beyond this "
        "ROC-AUC: the 95% lower bound of challenger minus champion (DeLong, paired) must stay "
        "above -margin (a non-inferiority test)",
    )
    promotion_brier_margin: float = Field(
        default=0.002,
        ge=0,
        lt=1,
        description="promote only if the 95% upper bound of challenger minus champion Brier "
        "score (paired, same rows) stays below this (the calibration check)",
    )
    promotion_min_holdout_rows: int = Field(
        default=200,
        ge=1,
        description="promotion needs at least this many hold-out rows newer than both models' "
        "training data; fewer and it refuses",
    )
    promotion_min_class_rows: int = Field(
        default=30,
        ge=1,
        description="... and at least this many Detractors and as many non-Detractors among them",
    )
    api_keys: str = Field(default="", description="comma-separated SHA-256 hex digests")
    admin_keys: str = Field(default="", description="comma-separated SHA-256 hex digests")
    session_secret: str | None = Field(
        default=None,
        min_length=32,
        description="signs the dashboard's session cookies; unset: a random secret per "
        "server process (sessions end when it restarts, and differ between replicas)",
        repr=False,
    )
    session_hours: float = Field(default=8.0, gt=0, description="a dashboard login's lifetime")
    mlflow_ui_url: str = Field(
        default="http://127.0.0.1:5000",
        description="where people open MLflow's UI (`make ui`); the model card links runs there",
    )
    max_batch: int = Field(default=1000, gt=0)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    max_events: int = Field(default=1000, gt=0, description="events per POST /v1/events batch")
    random_state: int = 42
    threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="threads a large vectorised step may use (default: the machine's cores)",
    )
    fast_shap: bool = Field(
        default=True,
        description="single-row SHAP through LightGBM's C API; false: the public Booster.predict",
    )

    @field_validator("experiment_period")
    @classmethod
    def _known_period(cls, value: str) -> str:
        import pandas as pd

        try:
            pd.Period("2026-01-01", freq=value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a period alias such as Q or M") from exc
        return value

    @field_validator("industry")
    @classmethod
    def _known_industry(cls, value: str | None) -> str | None:
        from nps_core.industry import INDUSTRIES

        if value is not None and value not in INDUSTRIES:
            raise ValueError(f"{value!r} is not one of {', '.join(sorted(INDUSTRIES))}")
        return value

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("NPS_RISK_CONFIG")
        if config_file:
            if not Path(config_file).is_file():
                from nps_core.errors import ConfigError

                raise ConfigError(f"NPS_RISK_CONFIG names {config_file}, which is not a file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else self.home / path

    @property
    def data_path(self) -> Path:
        return self.resolve(self.data_dir)

    @property
    def outputs_path(self) -> Path:
        return self.resolve(self.outputs_dir)

    @property
    def mlruns_path(self) -> Path:
        return self.resolve(self.mlruns_dir)

    @property
    def tracking_uri(self) -> str:
        """NPS_RISK_MLFLOW_TRACKING_URI, else MLFLOW_TRACKING_URI, else SQLite in mlruns/."""
        return self.mlflow_tracking_uri or f"sqlite:///{self.mlruns_path / 'mlflow.db'}"

    @property
    def embedded_tracking(self) -> bool:
        return self.mlflow_tracking_uri is None

    @property
    def artifact_root(self) -> Path:
        return self.mlruns_path / "artifacts"

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_path / 'nps_risk.db'}"

    @property
    def source_url(self) -> str:
        """The database source: NPS_RISK_DATA_URL, else SQLite under data/."""
        return self.data_url or f"sqlite:///{self.data_path / 'source.db'}"

    def key_digests(self, admin: bool = False) -> frozenset[str]:
        raw = self.admin_keys if admin else self.api_keys
        return frozenset(k.strip().lower() for k in raw.split(",") if k.strip())


@lru_cache
def get_settings() -> Settings:
    return Settings()
