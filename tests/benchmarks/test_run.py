"""``python -m benchmarks.run`` stops before running anything when a selected benchmark
lacks a tool, and says what to install."""

from benchmarks import run


def test_a_missing_tool_stops_the_run_before_anything_runs(monkeypatch, capsys):
    ran = []

    def fake(name, missing):
        return run.Benchmark(name, name, lambda options: ran.append(name) or {}, lambda: missing)

    monkeypatch.setattr(
        run,
        "registry",
        lambda: {"a": fake("a", None), "api": fake("api", "it needs wrk; install it: apt-get")},
    )
    assert run.main([]) == 2
    assert ran == []
    err = capsys.readouterr().err
    assert "benchmark 'api' cannot run: it needs wrk; install it: apt-get" in err
    assert "--only a" in err


def test_the_api_benchmark_declares_wrk(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "wrk" in (run.registry()["api"].missing() or "")
    assert run.registry()["features"].missing() is None
