"""MLflow: the one place that logs, registers, promotes and loads the Detractor model.

Serving calls ``load_model`` and nothing else, so training and serving cannot disagree on
the model format. The embedded default keeps tracking, registry and artifacts in ``mlruns/``
(SQLite); ``MLFLOW_TRACKING_URI`` points a team at a server instead.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nps_core.config import Settings
from nps_core.errors import ModelNotFoundError, RegistryUnreachableError
from nps_core.redaction import redact, redact_logs
from training.baselines import to_object_categoricals
from training.gate import (
    GateCheck,
    Margins,
    calibration_check,
    discrimination_check,
    gate_reason,
    holdout_check,
    missing_features_check,
    newer_holdout,
    skill_check,
)
from training.model import DetractorModel

EXPERIMENT = "nps-risk"
CHALLENGER, CHAMPION = "challenger", "champion"
PIP_REQUIREMENTS = ["nps-risk", "lightgbm>=4.5", "pandas>=3.0", "numpy>=2.0", "scikit-learn>=1.6"]
SMOKE_ROWS = "smoke_rows.parquet"  # a few hold-out rows and the probabilities given at training
EXPECTED = "_expected_probability"
# what the registry answers when it is reachable but holds no such model or alias
ABSENT = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


def configure(settings: Settings) -> Any:
    """Point MLflow at the configured store; create the experiment with its artifact root.

    An unreachable store raises ``RegistryUnreachableError`` within about
    ``settings.registry_timeout_s`` instead of waiting out MLflow's retries."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    redact_logs("mlflow", "sqlalchemy.engine", "alembic")  # the loggers MLflow gives handlers
    from mlflow import MlflowClient

    uri = settings.tracking_uri
    check_reachable(uri, settings.registry_timeout_s)
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


def run_url(settings: Settings, run_id: str) -> str:
    """Where a person opens a run in MLflow's UI: the tracking server itself when it is one,
    else ``settings.mlflow_ui_url`` (``make ui`` on the embedded store)."""
    client = configure(settings)
    experiment = client.get_run(run_id).info.experiment_id
    uri = settings.tracking_uri
    base = settings.mlflow_ui_url
    if uri.startswith(("http://", "https://")):
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(uri)  # never a password in a page: the host without user and password
        base = urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))
    return f"{base.rstrip('/')}/#/experiments/{experiment}/runs/{run_id}"


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
        smoke = holdout[model.features].head(20).reset_index(drop=True)
        smoke.assign(**{EXPECTED: model.predict_proba(smoke)}).to_parquet(
            bundle / SMOKE_ROWS, index=False
        )
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


# --- the last good local copy ------------------------------------------------------------
# serving-cache/<model>/<version>-<uuid>/ is written whole under a hidden staging name and
# renamed into place; <alias>.json names the copy in use and is swapped with os.replace. A
# reader sees the old copy or the new one, never half of one, and several processes on one
# host may write and read at once. A copy no pointer names is deleted once it has been
# retired for CACHE_GRACE_S, time enough for a reader that read the old pointer to finish.
CACHE_GRACE_S = 600.0


def _cache_root(settings: Settings) -> Path:
    return settings.mlruns_path / "serving-cache" / settings.model_name


def _read_pointer(root: Path, alias: str) -> dict[str, str] | None:
    try:
        info = json.loads((root / f"{alias}.json").read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and "folder" in info else None


def _publish(target: Path, payload: str) -> None:
    """Write ``payload`` to ``target`` all at once (a temp file in the same folder, replaced)."""
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(payload)
    os.replace(tmp, target)


def cache_model(
    settings: Settings, alias: str, version: str, bundle: Path, *, now: float | None = None
) -> Path:
    """Keep ``bundle`` as the last good copy of ``alias`` (version ``version``); its folder."""
    root = _cache_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    current = _read_pointer(root, alias)
    if current and current.get("version") == version:
        kept = root / current["folder"]
        if (kept / "model.json").is_file():
            return kept  # this version is the copy in use already
    folder = f"{version}-{uuid.uuid4().hex}"
    staging = root / f".staging-{folder}"
    shutil.copytree(bundle, staging)
    os.rename(staging, root / folder)  # the folder appears whole, under its final name
    info = {"name": settings.model_name, "version": version, "alias": alias, "folder": folder}
    _publish(root / f"{alias}.json", json.dumps(info))
    if current and (root / current["folder"]).is_dir():
        os.utime(root / current["folder"])  # retired now: the grace period starts here
    prune_cache(settings, now=now)
    return root / folder


def prune_cache(settings: Settings, *, now: float | None = None) -> list[Path]:
    """Delete copies no pointer names, and abandoned staging files, retired over
    ``CACHE_GRACE_S`` ago; what was deleted."""
    root = _cache_root(settings)
    if not root.is_dir():
        return []
    now = time.time() if now is None else now
    in_use = {
        info["folder"]
        for pointer in root.glob("*.json")
        if (info := _read_pointer(root, pointer.stem)) is not None
    }
    removed = []
    for entry in root.iterdir():
        pointer = entry.suffix == ".json" and not entry.name.startswith(".")
        if pointer or entry.name in in_use:
            continue
        try:
            retired = entry.stat().st_mtime
        except FileNotFoundError:  # another process pruned it first
            continue
        if now - retired < CACHE_GRACE_S:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def load_cached(settings: Settings, alias: str = CHAMPION) -> LoadedModel | None:
    """The last good local copy of ``alias``, or None if there is none."""
    root = _cache_root(settings)
    for _ in range(3):  # the copy was swapped and pruned between two reads: read the pointer again
        info = _read_pointer(root, alias)
        if info is None:
            return None
        folder = root / info["folder"]
        try:
            model, meta = DetractorModel.load(folder)
        except (ModelNotFoundError, FileNotFoundError):
            continue
        return LoadedModel(model, meta, info["name"], info["version"], alias, "local-cache", folder)
    return None


# --- the registry ------------------------------------------------------------------------
def warm_up() -> None:
    """Import MLflow (seconds of local work), so a deadline put on the registry afterwards
    measures the registry alone."""
    import mlflow  # noqa: F401


def check_reachable(uri: str, timeout_s: float) -> None:
    """Raise ``RegistryUnreachableError`` unless the tracking store behind ``uri`` answers
    within about ``timeout_s``: one connection, no retries. MLflow's own SQLAlchemy store
    retries a refused connection ten times with back-off (~100 s) and its HTTP client seven
    times; this keeps an unreachable registry from holding a caller for that long."""
    scheme = uri.split(":", 1)[0].lower() if "://" in uri else ""
    try:
        if scheme in ("http", "https"):
            _probe_http(uri, timeout_s)
        elif scheme.split("+")[0] in ("postgresql", "mysql", "mssql"):
            _probe_database(uri, timeout_s)
    except Exception as exc:
        first_line = (str(exc).strip().splitlines() or [""])[0]  # drivers add hint lines
        raise RegistryUnreachableError(
            f"the model registry at {redact(uri)} cannot be reached "
            f"({type(exc).__name__}: {redact(first_line)})"
        ) from None


def _probe_http(uri: str, timeout_s: float) -> None:
    import urllib.error
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(uri)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
    netloc += f":{parts.port}" if parts.port else ""
    health = urllib.parse.urlunsplit(
        (parts.scheme, netloc, parts.path.rstrip("/") + "/health", "", "")
    )
    with contextlib.suppress(urllib.error.HTTPError):  # any answer (401, 404): a server is there
        urllib.request.urlopen(health, timeout=timeout_s).close()


def _probe_database(uri: str, timeout_s: float) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    scheme = uri.split(":", 1)[0]
    connect_args: dict[str, Any] = {}
    if scheme.startswith(("postgresql", "mysql")):
        connect_args["connect_timeout"] = max(1, round(timeout_s))
    engine = create_engine(uri, poolclass=NullPool, connect_args=connect_args)
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()


def _bundle_in(folder: Path) -> Path:
    found = sorted(folder.rglob("model.json"))
    if not found:
        raise ModelNotFoundError(f"{folder} holds no model bundle (model.json)")
    return found[0].parent


def smoke_test(model: DetractorModel, bundle: Path) -> None:
    """Refuse a model that loads but cannot answer: a row with every feature missing must
    get a probability, and the rows stored at training must get the same probabilities."""
    blank = pd.DataFrame(
        {
            f: pd.Series([None], dtype="str") if f in model.categorical else [np.nan]
            for f in model.features
        }
    )
    frames = [blank]
    stored = bundle / SMOKE_ROWS
    expected = None
    if stored.is_file():
        rows = pd.read_parquet(stored)
        expected = rows.pop(EXPECTED).to_numpy(dtype=np.float64)
        frames.append(rows)
    p = model.predict_proba(pd.concat(frames, ignore_index=True))
    if p.shape != (sum(len(f) for f in frames),) or not np.all((p >= 0) & (p <= 1)):
        raise ModelNotFoundError(
            f"the model in {bundle.name} fails the smoke test: probabilities outside [0, 1] or "
            "missing (NaN); retrain it"
        )
    if expected is not None and not np.allclose(p[1:], expected, rtol=0, atol=1e-6):
        worst = float(np.max(np.abs(p[1:] - expected)))
        raise ModelNotFoundError(
            f"the model in {bundle.name} fails the smoke test: it no longer gives the "
            f"probabilities it gave at training (off by up to {worst:.2g}); retrain it"
        )


def _fetch_version(
    settings: Settings, version: str, folder: Path
) -> tuple[Path, DetractorModel, dict[str, Any]]:
    """One registered version by NUMBER (an alias can move between two reads), loaded and
    smoke-tested; the bundle stays in ``folder``."""
    import mlflow

    local = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{settings.model_name}/{version}", dst_path=str(folder)
        )
    )
    bundle = _bundle_in(local)
    model, meta = DetractorModel.load(bundle)
    try:
        smoke_test(model, bundle)
    except ModelNotFoundError as exc:
        raise ModelNotFoundError(
            f"version {version} of '{settings.model_name}': {exc}; it was not loaded"
        ) from exc
    return bundle, model, meta


def _version_of(client: Any, settings: Settings, alias: str) -> str | None:
    """The version behind an alias, read once; None when the registry says it is not set.
    Any other failure (the registry cannot be reached) propagates."""
    try:
        return str(client.get_model_version_by_alias(settings.model_name, alias).version)
    except Exception as exc:
        if getattr(exc, "error_code", None) in ABSENT:
            return None
        raise


def load_from_registry(settings: Settings, alias: str = CHAMPION) -> LoadedModel:
    """The model behind an alias, from the registry only, smoke-tested; it becomes the last
    good local copy. A registry that answers that the alias is not set means no model."""
    client = configure(settings)
    version = _version_of(client, settings, alias)
    if version is None:
        raise ModelNotFoundError(
            f"no model '{settings.model_name}@{alias}': the registry has no such alias (never "
            "set, or removed). Train one with `nps-risk train` and promote it with "
            "`nps-risk promote`."
        )
    with tempfile.TemporaryDirectory() as tmp:
        # refuse a broken model (load and smoke test) before it can reach the cache
        bundle, model, meta = _fetch_version(settings, version, Path(tmp))
        folder = cache_model(settings, alias, version, bundle)
    return LoadedModel(model, meta, settings.model_name, version, alias, "registry", folder)


def load_model(settings: Settings, alias: str = CHAMPION, *, use_cache: bool = True) -> LoadedModel:
    """The model behind an alias, from the registry; if the registry cannot be reached, the
    last good local copy (and the answer says so). A registry that answers that the alias is
    not set means no model: a deleted alias is never served from the cache."""
    try:
        return load_from_registry(settings, alias)
    except ModelNotFoundError:
        raise
    except Exception as exc:  # registry unreachable: fall back, loudly
        cached = load_cached(settings, alias) if use_cache else None
        if cached is not None:
            return cached
        wanted = f"no model '{settings.model_name}@{alias}'"
        no_copy = "; no local copy either" if use_cache else ""
        if isinstance(exc, RegistryUnreachableError):
            raise ModelNotFoundError(
                f"{wanted}: {exc}{no_copy}. Check that the registry is up, or name a reachable one."
            ) from exc
        raise ModelNotFoundError(
            f"{wanted} in the registry at {redact(settings.tracking_uri)}{no_copy} "
            f"({type(exc).__name__}: {redact(exc)}). Train one with `nps-risk train` and "
            "promote it with `nps-risk promote`."
        ) from exc


@dataclass(frozen=True)
class PromotionDecision:
    promoted: bool
    reason: str  # names the check(s) that refused, with their figures
    challenger_version: str
    champion_version: str | None
    challenger_auc: float  # on the hold-out the gate judged on
    challenger_auc_low: float
    champion_auc: float | None
    checks: tuple[GateCheck, ...] = ()
    holdout_rows: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def promote(settings: Settings, *, auc_margin: float | None = None) -> PromotionDecision:
    """Move ``champion`` to the challenger only if it earns it on rows newer than both
    models' training data: enough such rows, skill (ROC-AUC interval above 0.5), ranking not
    worse than the champion's beyond ``promotion_auc_margin`` (DeLong, paired) and
    calibration not worse beyond ``promotion_brier_margin`` (paired Brier difference).

    Each alias is read once and the models are loaded by version number, so another
    ``train`` moving the challenger alias meanwhile cannot swap the model being judged."""
    import mlflow

    margins = Margins.from_settings(settings, auc_margin)
    client = configure(settings)
    challenger = _version_of(client, settings, CHALLENGER)
    if challenger is None:
        raise ModelNotFoundError(
            f"no '{CHALLENGER}' alias on '{settings.model_name}': train a model first"
        )
    champion = _version_of(client, settings, CHAMPION)
    if champion == challenger:
        return PromotionDecision(
            False,
            f"version {challenger} is already the champion",
            challenger,
            champion,
            math.nan,
            math.nan,
            None,
        )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _, new, new_meta = _fetch_version(settings, challenger, folder / "challenger")
        run_id = client.get_model_version(settings.model_name, challenger).run_id
        holdout_path = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="holdout/test_rows.parquet", dst_path=str(folder)
        )
        test_rows = pd.read_parquet(holdout_path)
        old, old_meta = None, None
        if champion is not None:
            _, old, old_meta = _fetch_version(settings, champion, folder / "champion")

    split = new_meta.get("split") or {}
    time_column = split.get("time_column") or (
        "responded_at" if "responded_at" in test_rows.columns else None
    )
    cutoffs = {"challenger": split.get("test_from")}
    if old_meta is not None:
        cutoffs["champion"] = (old_meta.get("split") or {}).get("test_from")
    holdout = newer_holdout(test_rows, time_column, cutoffs)
    y = holdout.rows["label"].to_numpy(dtype=np.int64)
    checks = [holdout_check(y, holdout, margins)]
    missing = [] if old is None else [f for f in old.features if f not in test_rows.columns]
    if missing:
        checks.append(missing_features_check(missing, str(champion)))
    p_new = p_old = None
    if all(c.passed for c in checks):
        p_new = new.predict_proba(holdout.rows)
        checks.append(skill_check(y, p_new))
        if old is not None:
            p_old = old.predict_proba(holdout.rows)
            checks.append(discrimination_check(y, p_new, p_old, margins.auc))
            checks.append(calibration_check(y, p_new, p_old, margins.brier))
    promoted = all(c.passed for c in checks)
    if promoted:
        client.set_registered_model_alias(settings.model_name, CHAMPION, challenger)
    skill = next((c.figures for c in checks if c.name == "skill"), {})
    discrimination = next((c.figures for c in checks if c.name == "discrimination"), {})
    return PromotionDecision(
        promoted,
        gate_reason(checks, champion),
        challenger,
        champion,
        skill.get("roc_auc", math.nan),
        skill.get("low", math.nan),
        discrimination.get("auc_b"),
        tuple(checks),
        len(y),
    )
