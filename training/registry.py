"""MLflow: the one place that logs, registers, promotes and loads the Detractor model.

Serving calls ``load_model`` and nothing else, so training and serving cannot disagree on
the model format. The embedded default keeps tracking, registry and artifacts in ``mlruns/``
(SQLite); ``MLFLOW_TRACKING_URI`` points a team at a server instead.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nps_core.config import Settings
from nps_core.errors import ModelNotFoundError, NpsRiskError
from training.baselines import to_object_categoricals
from training.metrics import auc_with_ci
from training.model import DetractorModel

EXPERIMENT = "nps-risk"
CHALLENGER, CHAMPION = "challenger", "champion"
PIP_REQUIREMENTS = ["nps-risk", "lightgbm>=4.5", "pandas>=3.0", "numpy>=2.0", "scikit-learn>=1.6"]


def configure(settings: Settings) -> Any:
    """Point MLflow at the configured store; create the experiment with its artifact root."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    from mlflow import MlflowClient

    uri = settings.tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    previous = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for key, value in previous.items():  # MLflow writes these into the environment; undo it
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        # the embedded store keeps artifacts in mlruns/ whatever the working directory
        location = settings.artifact_root.as_uri() if settings.embedded_tracking else None
        mlflow.create_experiment(EXPERIMENT, artifact_location=location)
    mlflow.set_experiment(EXPERIMENT)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@dataclass(frozen=True)
class LoggedModel:
    run_id: str
    version: str
    name: str


def log_and_register(
    settings: Settings,
    model: DetractorModel,
    *,
    params: dict[str, Any],
    metrics: dict[str, float],
    meta: dict[str, Any],
    artifacts: dict[str, Path],
    holdout: pd.DataFrame,
    history: pd.DataFrame | None = None,
    tags: dict[str, str] | None = None,
) -> LoggedModel:
    """One run: params, metrics, artifacts, the hold-out (for fair promotion later), and the
    model as a pyfunc with signature and input example; registered and aliased challenger."""
    import mlflow
    from mlflow.models import infer_signature

    client = configure(settings)
    with mlflow.start_run(tags=tags) as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.log_params({k: v for k, v in params.items() if v is not None})
        mlflow.log_metrics(
            {k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}
        )
        for name, path in artifacts.items():
            if path.is_dir():
                mlflow.log_artifacts(str(path), artifact_path=name)
            else:
                mlflow.log_artifact(str(path), artifact_path=name)
        holdout_path = Path(tmp) / "test_rows.parquet"
        holdout.to_parquet(holdout_path, index=False)
        mlflow.log_artifact(str(holdout_path), artifact_path="holdout")

        bundle = Path(tmp) / "bundle"
        model.save(bundle, extra={**meta, "run_id": run.info.run_id})
        if history is not None:
            history.to_parquet(bundle / "history.parquet", index=False)
        example = to_object_categoricals(holdout[model.features].head(5), model.categorical)
        signature = infer_signature(example, model.predict_proba(holdout[model.features].head(5)))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(Path(__file__).with_name("mlflow_model.py")),
            artifacts={"bundle": str(bundle)},
            signature=signature,
            input_example=example,
            pip_requirements=PIP_REQUIREMENTS,
            registered_model_name=settings.model_name,
        )
        version = str(info.registered_model_version)
    client.set_registered_model_alias(settings.model_name, CHALLENGER, version)
    return LoggedModel(run_id=run.info.run_id, version=version, name=settings.model_name)


@dataclass
class LoadedModel:
    model: DetractorModel
    meta: dict[str, Any]
    name: str
    version: str
    alias: str
    source: str  # "registry" or "local-cache" (registry unreachable: last good copy)
    folder: Path

    def history(self) -> pd.DataFrame | None:
        path = self.folder / "history.parquet"
        return pd.read_parquet(path) if path.is_file() else None


def _cache_dir(settings: Settings, alias: str) -> Path:
    return settings.mlruns_path / "serving-cache" / settings.model_name / alias


def _bundle_in(folder: Path) -> Path:
    found = sorted(folder.rglob("model.json"))
    if not found:
        raise ModelNotFoundError(f"{folder} holds no model bundle (model.json)")
    return found[0].parent


def load_model(settings: Settings, alias: str = CHAMPION, *, use_cache: bool = True) -> LoadedModel:
    """The model behind an alias, from the registry; if the registry cannot be reached, the
    last good local copy (and the answer says so)."""
    try:
        import mlflow

        client = configure(settings)
        version = client.get_model_version_by_alias(settings.model_name, alias)
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=f"models:/{settings.model_name}/{version.version}", dst_path=tmp
                )
            )
            bundle = _bundle_in(local)
            model, meta = DetractorModel.load(bundle)  # refuse a broken model before caching it
            cache = _cache_dir(settings, alias)
            staging = cache.with_name(cache.name + ".new")
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(bundle, staging)
            (staging / "registry.json").write_text(
                json.dumps(
                    {"name": settings.model_name, "version": str(version.version), "alias": alias}
                )
            )
            shutil.rmtree(cache, ignore_errors=True)
            staging.rename(cache)
        return LoadedModel(
            model, meta, settings.model_name, str(version.version), alias, "registry", cache
        )
    except ModelNotFoundError:
        raise
    except Exception as exc:  # registry unreachable or alias missing: fall back, loudly
        cache = _cache_dir(settings, alias)
        if use_cache and (cache / "registry.json").is_file():
            info = json.loads((cache / "registry.json").read_text())
            model, meta = DetractorModel.load(cache)
            return LoadedModel(
                model, meta, info["name"], info["version"], alias, "local-cache", cache
            )
        raise ModelNotFoundError(
            f"no model '{settings.model_name}@{alias}' in the registry at {settings.tracking_uri} "
            f"and no local copy ({type(exc).__name__}: {exc}). Train one with `nps-risk train` "
            "and promote it with `nps-risk promote`."
        ) from exc


@dataclass(frozen=True)
class PromotionDecision:
    promoted: bool
    reason: str
    challenger_version: str
    champion_version: str | None
    challenger_auc: float
    challenger_auc_low: float
    champion_auc: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def promote(settings: Settings, *, tolerance: float = 0.0) -> PromotionDecision:
    """Move ``champion`` to the challenger only if it has skill (its ROC-AUC interval clears
    0.5) and it is at least as good as the champion on the challenger's own hold-out, the
    newest data either has seen."""
    import mlflow

    client = configure(settings)
    try:
        challenger = client.get_model_version_by_alias(settings.model_name, CHALLENGER)
    except Exception as exc:
        raise ModelNotFoundError(
            f"no '{CHALLENGER}' alias on '{settings.model_name}': train a model first"
        ) from exc
    with tempfile.TemporaryDirectory() as tmp:
        holdout = pd.read_parquet(
            Path(
                mlflow.artifacts.download_artifacts(
                    run_id=challenger.run_id,
                    artifact_path="holdout/test_rows.parquet",
                    dst_path=tmp,
                )
            )
        )
    y = holdout["label"].to_numpy()
    new = load_model(settings, CHALLENGER, use_cache=False)
    auc, low, _ = auc_with_ci(y, new.model.predict_proba(holdout))

    def decide(
        promoted: bool,
        reason: str,
        champ_version: str | None = None,
        champ_auc: float | None = None,
    ) -> PromotionDecision:
        if promoted:
            client.set_registered_model_alias(settings.model_name, CHAMPION, challenger.version)
        return PromotionDecision(
            promoted, reason, str(challenger.version), champ_version, auc, low, champ_auc
        )

    if not (low > 0.5):
        return decide(
            False,
            f"refused: the challenger shows no skill (ROC-AUC {auc:.3f}, 95% interval from {low:.3f} does not clear 0.5)",
        )
    try:
        champion = client.get_model_version_by_alias(settings.model_name, CHAMPION)
    except Exception:
        return decide(
            True, f"promoted: first champion (ROC-AUC {auc:.3f}, interval from {low:.3f})"
        )
    if str(champion.version) == str(challenger.version):
        return decide(
            False,
            f"version {challenger.version} is already the champion",
            str(champion.version),
            auc,
        )
    current = load_model(settings, CHAMPION, use_cache=False)
    missing = [f for f in current.model.features if f not in holdout.columns]
    if missing:
        raise NpsRiskError(
            f"the champion (version {champion.version}) needs features the challenger's hold-out lacks "
            f"({missing[:5]}...): compare them on one data set before promoting"
        )
    champ_auc, _, _ = auc_with_ci(y, current.model.predict_proba(holdout))
    if auc + tolerance >= champ_auc:
        return decide(
            True,
            f"promoted: ROC-AUC {auc:.3f} vs champion {champ_auc:.3f} on the same newest hold-out",
            str(champion.version),
            champ_auc,
        )
    return decide(
        False,
        f"kept the champion: challenger ROC-AUC {auc:.3f} < champion {champ_auc:.3f} on the same newest hold-out",
        str(champion.version),
        champ_auc,
    )
