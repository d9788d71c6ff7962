"""The last good local copy: swapped whole, safe for several processes of one host."""

import multiprocessing
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nps_core.config import Settings
from training import registry
from training.model import DetractorModel
from training.registry import CACHE_GRACE_S, cache_model, load_cached, prune_cache

WRITERS, READERS, WRITES = 3, 3, 25


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    """Two saved models, versions "1" and "2"; each says inside which version it is."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=900), "b": rng.normal(size=900)})
    y = (frame["a"] + rng.normal(size=900) > 0).to_numpy().astype(int)
    parts = [(frame[i : i + 300], y[i : i + 300]) for i in (0, 300, 600)]  # train, valid, calib
    model = DetractorModel(["a", "b"]).fit(*parts[0], *parts[1], *parts[2])
    root = tmp_path_factory.mktemp("bundles")
    return {v: model.save(root / v, extra={"marker": v}) for v in ("1", "2")}


def _write(home: str, bundles: dict[str, Path], barrier, offset: int) -> None:
    settings = Settings(home=home)
    barrier.wait()
    for k in range(WRITES):
        version = str((offset + k) % 2 + 1)
        folder = cache_model(settings, "champion", version, bundles[version])
        assert (folder / "model.json").is_file()


def _read(home: str, barrier, errors) -> None:
    settings = Settings(home=home)
    barrier.wait()
    seen = 0
    deadline = time.monotonic() + 120
    while seen < 3 * WRITES and time.monotonic() < deadline:
        try:
            loaded = load_cached(settings, "champion")
        except Exception as exc:  # a half-written or half-deleted copy
            errors.put(f"reader: {type(exc).__name__}: {exc}")
            return
        if loaded is None:
            if seen:
                errors.put("reader: the copy vanished after it had been there")
                return
            continue
        seen += 1
        if loaded.meta["marker"] != loaded.version:
            errors.put(
                f"reader: pointer says {loaded.version}, folder holds {loaded.meta['marker']}"
            )
            return
        p = loaded.model.predict_proba(pd.DataFrame({"a": [0.5], "b": [-1.0]}))
        if not 0 < p[0] < 1:
            errors.put(f"reader: {p[0]} is no probability")
            return


def test_several_processes_write_and_read_the_copy_at_once(bundles, tmp_path):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WRITERS + READERS)
    errors = context.Queue()
    processes = [
        context.Process(target=_write, args=(str(tmp_path), bundles, barrier, i))
        for i in range(WRITERS)
    ] + [
        context.Process(target=_read, args=(str(tmp_path), barrier, errors)) for _ in range(READERS)
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join(300)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert not found, found
    assert [p.exitcode for p in processes] == [0] * len(processes)
    last = load_cached(Settings(home=tmp_path), "champion")
    assert last is not None and last.meta["marker"] == last.version
    root = tmp_path / "mlruns" / "serving-cache" / "nps-detractor"
    assert not list(root.glob(".staging-*")) and not list(root.glob(".*.tmp"))


def test_old_copies_go_once_retired_for_the_grace_period(bundles, tmp_path):
    settings = Settings(home=tmp_path)
    first = cache_model(settings, "champion", "1", bundles["1"])
    assert cache_model(settings, "champion", "1", bundles["1"]) == first  # same version: kept
    kept_for_challenger = cache_model(settings, "challenger", "1", bundles["1"])
    second = cache_model(settings, "champion", "2", bundles["2"])
    (first.parent / ".staging-3-abandoned").mkdir()  # a writer that crashed half-way
    now = time.time()
    assert prune_cache(settings, now=now) == []  # a reader may still be loading `first`
    removed = prune_cache(settings, now=now + CACHE_GRACE_S + 1)
    assert sorted(p.name for p in removed) == sorted([first.name, ".staging-3-abandoned"])
    assert second.is_dir() and kept_for_challenger.is_dir()
    assert load_cached(settings, "champion").version == "2"
    assert load_cached(settings, "challenger").version == "1"


def test_a_reader_follows_the_pointer_again_if_its_copy_was_pruned(bundles, tmp_path, monkeypatch):
    settings = Settings(home=tmp_path)
    old = cache_model(settings, "champion", "1", bundles["1"])
    real, swapped = registry._read_pointer, []

    def racing(root: Path, alias: str):
        info = real(root, alias)
        if not swapped:  # between this read and the load, the copy is swapped and pruned
            swapped.append(True)
            cache_model(settings, "champion", "2", bundles["2"])
            os.utime(old, (0, 0))  # retired long ago
            prune_cache(settings)
        return info

    monkeypatch.setattr(registry, "_read_pointer", racing)
    loaded = load_cached(settings, "champion")
    assert not old.exists() and loaded is not None and loaded.version == "2"
