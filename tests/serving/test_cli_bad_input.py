"""Every command x every malformed argument: one line on stderr, exit code 2, no work started.

Each case runs ``main([...])`` in-process with every command's handler replaced by a
tripwire, so "no heavy work" is checked directly (the handler never ran, the project home
and the output paths stay empty); a few run through a real ``python -m serving.cli`` to
show that no traceback reaches the terminal. Domain errors and unexpected crashes during
the work are checked at the end.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from nps_core.config import get_settings
from nps_core.errors import NpsRiskError
from serving import cli

REPO = Path(__file__).resolve().parents[2]
HANDLERS = [name for name in vars(cli) if name.startswith("_cmd_")]
FAST_S = 5.0  # parsing and checking only; generous for a loaded 2-core machine


@dataclass(frozen=True)
class Case:
    argv: str  # placeholders: see the paths fixture
    flag: str  # the argument the answer must name
    value: str | None = None  # the value it must quote, if there is one

    @property
    def command(self) -> str:
        return self.argv.split()[0]


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, str]:
    """A valid data DIR, a plain file, a folder, and paths that are missing or blocked."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "interactions.csv").write_text("interaction_id,customer_id,channel,opened_at\n")
    (data / "surveys.csv").write_text("response_id,customer_id,responded_at,score\n")
    half = tmp_path / "half"
    half.mkdir()
    (half / "interactions.csv").write_text("interaction_id,customer_id,channel,opened_at\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "folder").mkdir()
    (tmp_path / "notes.txt").write_text("not a data DIR\n")
    (tmp_path / "book.xlsx").write_bytes(b"PK\x03\x04")
    (tmp_path / "table.csv").write_text("id,label,x\na,yes,1\n")
    (tmp_path / "table.csv.gz").write_bytes(gzip.compress(b"id,label,x\na,yes,1\n"))
    (tmp_path / "table.parquet.gz").write_bytes(gzip.compress(b"PAR1"))
    (tmp_path / "map.toml").write_text("")
    return {
        "data": str(data),
        "half": str(half),
        "empty": str(tmp_path / "empty"),
        "dir": str(tmp_path / "folder"),
        "file": str(tmp_path / "notes.txt"),
        "xlsx": str(tmp_path / "book.xlsx"),
        "table": str(tmp_path / "table.csv"),
        "gzipped": str(tmp_path / "table.csv.gz"),
        "gzparquet": str(tmp_path / "table.parquet.gz"),
        "mapping": str(tmp_path / "map.toml"),
        "missing": str(tmp_path / "missing"),
        "blocked": str(tmp_path / "notes.txt" / "sub"),  # its parent is a file
        "new": str(tmp_path / "new"),  # must never be created
        "nodb": f"sqlite:///{tmp_path / 'missing' / 'source.db'}",  # a database never filled
        "mysql": "mysql://db.example/crm",  # a database of a kind we do not read
    }


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project home of its own: a command that started working would leave state here."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("NPS_RISK_HOME", str(home))
    monkeypatch.delenv("NPS_RISK_DEBUG", raising=False)
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture
def tripwires(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every command's handler replaced by one that records that the work started."""
    started: list[str] = []
    for name in HANDLERS:
        monkeypatch.setattr(cli, name, lambda args, name=name: started.append(name) or 0)
    return started


def _fill(argv: str, paths: dict[str, str]) -> list[str]:
    return [part.format(**paths) for part in argv.split()]


def _refused(case: Case, paths, home, tripwires, capsys) -> str:
    """Run the case in-process; check the one-line answer and that nothing started."""
    started = time.perf_counter()
    code = cli.main(_fill(case.argv, paths))
    elapsed = time.perf_counter() - started
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith(f"nps-risk {case.command}: "), line
    assert case.flag in line, line
    if case.value is not None:
        assert f"'{case.value.format(**paths)}'" in line, line
    assert "Traceback" not in err
    assert tripwires == [], f"{tripwires} ran"
    assert list(home.iterdir()) == [], "the command left state in the project home"
    assert not Path(paths["new"]).exists()
    assert elapsed < FAST_S
    return line


DATA_COMMANDS = {
    "features": "--out {new}/rows.parquet",
    "train": "",
    "score": "",
    "impact": "--from 2026-01-01 --to 2026-01-31",
    "nps": "",
    "themes": "",
    "drivers": "",
    "load": "",
}
BAD_DATA = {  # placeholder -> what the answer says
    "missing": "does not exist",
    "file": "is a file",
    "empty": "has no interactions and no surveys table",
    "half": "has no surveys table",
    "nodb": "does not exist (fill it with `nps-risk load",
    "mysql": "names a mysql database (expected sqlite or postgresql)",
}
DATA_CASES = [
    pytest.param(
        Case(f"{command} --data {{{kind}}} {rest}".strip(), "--data", f"{{{kind}}}"),
        said,
        id=f"{command}-data-{kind}",
    )
    for command, rest in DATA_COMMANDS.items()
    for kind, said in BAD_DATA.items()
]


@pytest.mark.parametrize(("case", "said"), DATA_CASES)
def test_a_bad_data_dir_is_refused_before_loading(case, said, paths, home, tripwires, capsys):
    assert said in _refused(case, paths, home, tripwires, capsys)


LOOP = (
    "--customers 100 --days 90 --lists-from 2026-03-01 --capacity 5 --effect-high -1 "
    "--effect-low 0 --seed 1"
)


def _cases(command: str, *cases: tuple[str, str, str | None]) -> list:
    return [
        pytest.param(Case(f"{command} {argv}", flag, value), id=f"{command}{flag}={value}")
        for argv, flag, value in cases
    ]


CATALOGUE = [
    # counts, a date and paths
    *_cases(
        "simulate",
        ("--customers 0 --out {new}", "--customers", "0"),
        ("--customers -5 --out {new}", "--customers", "-5"),
        ("--customers 2.5 --out {new}", "--customers", "2.5"),
        ("--customers many --out {new}", "--customers", "many"),
        ("--days 0 --out {new}", "--days", "0"),
        ("--days 1.5 --out {new}", "--days", "1.5"),
        ("--seed -1 --out {new}", "--seed", "-1"),
        ("--start 2026-02-30 --out {new}", "--start", "2026-02-30"),
        ("--start 01/02/2026 --out {new}", "--start", "01/02/2026"),
        ("--out {file}", "--out", "{file}"),
        ("--out {blocked}", "--out", "{blocked}"),
        ("--customers 10", "--out", None),
    ),
    *_cases(
        "import",
        ("{missing}.csv --mapping {mapping} --out {new}", "source", "{missing}.csv"),
        ("{dir} --mapping {mapping} --out {new}", "source", "{dir}"),
        ("{xlsx} --mapping {mapping} --out {new}", "source", "{xlsx}"),
        ("{table} --mapping {missing}.toml --out {new}", "--mapping", "{missing}.toml"),
        ("{table} --mapping {dir} --out {new}", "--mapping", "{dir}"),
        ("{table} --mapping {mapping} --out {file}", "--out", "{file}"),
        ("{table} --mapping {mapping} --out {blocked}", "--out", "{blocked}"),
        ("{table} --out {new}", "--mapping", None),
    ),
    *_cases(
        "features",
        ("--data {data} --out {new}/rows.txt", "--out", "{new}/rows.txt"),
        ("--data {data} --out {dir}", "--out", "{dir}"),
        ("--data {data} --out {blocked}/rows.parquet", "--out", "{blocked}/rows.parquet"),
        ("--data {data} --out {new}/r.csv --as-of 2026-02-30", "--as-of", "2026-02-30"),
        ("--data {data} --out {new}/r.csv --as-of 2026-01-01T25:00", "--as-of", None),
        ("--data {data} --out {new}/r.csv --as-of soon", "--as-of", "soon"),
        ("--data {data} --out {new}/r.csv --as-of 9999-01-01", "--as-of", "9999-01-01"),
        ("--data {data} --out {new}/r.csv --as-of", "--as-of", None),
        ("--out {new}/rows.parquet", "--data", None),
    ),
    *_cases(
        "train",
        ("--data {data} --test-from 2026-13-01", "--test-from", "2026-13-01"),
        ("--data {data} --test-from 2026-1-1", "--test-from", "2026-1-1"),
        ("--data {data} --test-from 1500-01-01", "--test-from", "1500-01-01"),
        ("--data {data} --k 0", "--k", "0"),
        ("--data {data} --k 3.5", "--k", "3.5"),
        ("--data {data} --metrics-out {blocked}/m.json", "--metrics-out", "{blocked}/m.json"),
        ("--data {data} --metrics-out {dir}", "--metrics-out", "{dir}"),
        ("--table {missing}.csv --label label --id id", "--table", "{missing}.csv"),
        ("--table {dir} --label label --id id", "--table", "{dir}"),
        ("--table {xlsx} --label label --id id", "--table", "{xlsx}"),
        ("--table {gzparquet} --label label --id id", "--table", "{gzparquet}"),
        ("", "--data", None),
        ("--data {data} --table {table} --label label --id id", "--table", None),
        ("--table {table} --id id", "--label", None),
        ("--table {table} --label label", "--id", None),
        ("--data {data} --label label", "--label", None),
        ("--table {table} --label label --id id --test-from 2026-01-01", "--test-from", None),
        ("--table {table} --label label --id id --treated include", "--treated", None),
        ("--data {data} --treated weight", "--treated", "weight"),
    ),
    *_cases(
        "score",
        ("--data {data} --as-of 2026-13-01", "--as-of", "2026-13-01"),
        ("--data {data} --as-of tomorrow", "--as-of", "tomorrow"),
        ("--data {data} --as-of 2026-01-01T10:00", "--as-of", "2026-01-01T10:00"),
        ("--data {data} --capacity 0", "--capacity", "0"),
        ("--data {data} --capacity ten", "--capacity", "ten"),
        ("--data {data} --control-share 1.5", "--control-share", "1.5"),
        ("--data {data} --control-share -0.1", "--control-share", "-0.1"),
        ("--data {data} --control-share nan", "--control-share", "nan"),
        ("--as-of 2026-01-01", "--data", None),
    ),
    *_cases(
        "impact",
        ("--data {data} --from 2026-13-01 --to 2026-01-31", "--from", "2026-13-01"),
        ("--data {data} --from 2026-01-01 --to 2026-02-30", "--to", "2026-02-30"),
        ("--data {data} --from 2026-02-01 --to 2026-01-01", "--to", "2026-01-01"),
        ("--data {data} --from 2026-01-01 --to 2026-01-31 --window-days 0", "--window-days", "0"),
        ("--data {data} --from 2026-01-01 --to 2026-01-31 --capacity 0", "--capacity", "0"),
        ("--data {data} --from 2026-01-01 --to 2026-01-31 --json {dir}", "--json", "{dir}"),
        ("--data {data} --from 2026-01-01 --to 2026-01-31 --window-days -3", "--window-days", "-3"),
        (
            "--data {data} --from 2026-01-01 --to 2026-01-31 --window-days 7.5",
            "--window-days",
            "7.5",
        ),
        ("--data {data} --to 2026-01-31", "--from", None),
    ),
    *_cases(
        "nps",
        ("--data {data} --freq X", "--freq", "X"),
        ("--data {data} --freq 2M", "--freq", "2M"),
        ("--data {data} --freq month", "--freq", "month"),
        ("--data {data} --by nothing", "--by", "nothing"),
        ("--data {data} --industry mars", "--industry", "mars"),
        ("--data {data} --from 2026-02-30", "--from", "2026-02-30"),
        ("--data {data} --from 2026-03-01 --to 2026-02-01", "--to", "2026-02-01"),
        ("--data {data} --json {dir}", "--json", "{dir}"),
    ),
    *_cases(
        "themes",
        ("--data {data} --freq year", "--freq", "year"),
        ("--data {data} --min-count 0", "--min-count", "0"),
        ("--data {data} --bootstrap many", "--bootstrap", "many"),
        ("--data {data} --to 2026-01-01 --from 2026-02-01", "--to", "2026-01-01"),
        ("--data {data} --taxonomy {new}/none.toml", "--taxonomy", "{new}/none.toml"),
        ("--data {data} --json {dir}", "--json", "{dir}"),
    ),
    *_cases(
        "drivers",
        ("--data {data} --json {dir}", "--json", "{dir}"),
        ("--team billing", "--data", None),
    ),
    *_cases(
        "serve",
        ("--port 0", "--port", "0"),
        ("--port 70000", "--port", "70000"),
        ("--port http", "--port", "http"),
        ("--log-level loud", "--log-level", "loud"),
        ("--data {mysql}", "--data", "{mysql}"),
        ("--data sqlite://", "--data", "sqlite://"),
    ),
    *_cases(
        "load",
        ("--data {data} --into sqlite://", "--into", "sqlite://"),
        ("--data {data} --into {mysql}", "--into", "{mysql}"),
        ("--data {data} --mode merge", "--mode", "merge"),
    ),
    *_cases(
        "simulate-loop",
        *[
            (f"{LOOP} --out {{new}} {flag} {value}", flag, value)
            for flag, value in [
                ("--customers", "0"),
                ("--days", "1.5"),
                ("--capacity", "ten"),
                ("--lists-from", "2026-02-30"),
                ("--lists-from", "2025-06-01"),  # before --start
                ("--effect-high", "strong"),
                ("--effect-low", "nan"),
                ("--effect-medium", "50"),
                ("--reach-share", "1.5"),
                ("--answer-effect", "inf"),
                ("--control-share", "1"),
                ("--seed", "-1"),
            ]
        ],
        ("--customers 100 --days 90 --out {new}", "--lists-from", None),
    ),
    *_cases(
        "promote",
        ("--tolerance -0.1", "--tolerance", "-0.1"),
        ("--tolerance 2", "--tolerance", "2"),
        ("--tolerance nan", "--tolerance", "nan"),
    ),
]


@pytest.mark.parametrize("case", CATALOGUE)
def test_a_malformed_argument_is_one_line_and_exit_2(case, paths, home, tripwires, capsys):
    line = _refused(case, paths, home, tripwires, capsys)
    assert case.flag in line


@pytest.mark.parametrize(
    "command", [name.removeprefix("_cmd_").replace("_", "-") for name in HANDLERS]
)
def test_every_command_answers_help_has_debug_and_is_in_the_catalogue(command, capsys):
    assert cli.main([command, "--help"]) == 0
    assert "--debug" in capsys.readouterr().out
    catalogued = {p.values[0].command for p in CATALOGUE} | set(DATA_COMMANDS) | {"keygen"}
    assert command in catalogued


@pytest.mark.parametrize(
    "argv",
    [["bogus"], [], ["score", "--data"], ["keygen", "--admin", "extra"]],
    ids=["unknown-command", "no-command", "no-value", "extra-argument"],
)
def test_argparse_own_complaints_are_one_line_too(argv, home, tripwires, capsys):
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and err.startswith("nps-risk")
    assert tripwires == []


def test_good_arguments_reach_the_handler_converted(paths, home, tripwires, monkeypatch):
    seen = []
    monkeypatch.setattr(cli, "_cmd_impact", lambda args: seen.append(args) or 0)
    argv = "impact --data {data} --from 2026-01-01 --to 2026-01-31 --window-days 30"
    assert cli.main(_fill(argv, paths)) == 0
    (args,) = seen
    assert (args.date_from.isoformat(), args.date_to.isoformat()) == ("2026-01-01", "2026-01-31")
    assert (args.data, args.window_days) == (Path(paths["data"]), 30)
    argv = "import {gzipped} --mapping {mapping} --out {new} --debug"
    assert cli.main(_fill(argv, paths)) == 0 and tripwires == ["_cmd_import"]


# --- through a real process: nothing but the one line reaches the terminal ---------------


def _subprocess(argv: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "NPS_RISK_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true"}
    environment.pop("NPS_RISK_DEBUG", None)
    return subprocess.run(
        [sys.executable, *argv],
        capture_output=True,
        text=True,
        env={**environment, **env},
        cwd=REPO,
        timeout=120,
    )


@pytest.mark.parametrize(
    "case",
    [
        Case("score --data {data} --as-of 2026-13-01", "--as-of", "2026-13-01"),
        Case("nps --data {missing}", "--data", "{missing}"),
        Case("simulate --customers 0 --out {new}", "--customers", "0"),
        Case("features --data {half} --out {new}/rows.parquet", "--data", "{half}"),
        Case("impact --data {data} --from 2026-02-01 --to 2026-01-01", "--to", "2026-01-01"),
    ],
    ids=lambda case: case.argv.split()[0],
)
def test_a_real_process_prints_one_line_and_no_traceback(case, paths, home):
    done = _subprocess(["-m", "serving.cli", *_fill(case.argv, paths)], home)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert case.flag in done.stderr and f"'{case.value.format(**paths)}'" in done.stderr
    assert list(home.iterdir()) == [] and not Path(paths["new"]).exists()


# --- errors during the work ---------------------------------------------------------------


def test_a_domain_error_during_the_work_is_one_line_even_a_multi_line_one(
    paths, home, monkeypatch, capsys
):
    argv = ["train", "--table", paths["table"], "--label", "nope", "--id", "id"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "nps-risk train: error:" in err and "'nope'" in err

    def fail(args):
        raise NpsRiskError("first line\nsecond line")

    monkeypatch.setattr(cli, "_cmd_keygen", fail)
    assert cli.main(["keygen"]) == 2
    assert capsys.readouterr().err == "nps-risk keygen: error: first line second line\n"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("NPS_RISK_DAILY_CAPACITY", "0"), ("NPS_RISK_THREADS", "many")],
)
def test_a_bad_setting_is_one_line_naming_the_variable(
    variable, value, paths, home, monkeypatch, capsys
):
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    assert cli.main(["nps", "--data", paths["data"]]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and variable in err and f"'{value}'" in err


def test_a_broken_config_file_is_one_line_naming_it(paths, home, tmp_path, monkeypatch, capsys):
    config = tmp_path / "nps-risk.toml"
    config.write_text("daily_capacity = = 3\n")
    monkeypatch.setenv("NPS_RISK_CONFIG", str(config))
    get_settings.cache_clear()
    assert cli.main(["nps", "--data", paths["data"]]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and str(config) in err


def _crash(args):
    raise RuntimeError("something we did not foresee")


def test_an_unexpected_error_is_one_line_naming_the_log(home, monkeypatch, capsys):
    monkeypatch.setattr(cli, "_cmd_keygen", _crash)
    assert cli.main(["keygen"]) == 1
    err = capsys.readouterr().err
    log = home / "outputs" / "logs" / "nps-risk.log"
    assert err.splitlines() == [
        "nps-risk keygen: unexpected error (RuntimeError: something we did not foresee); "
        f"the traceback is in {log}; rerun with --debug to see it here"
    ]
    written = log.read_text()
    assert written.splitlines()[0].endswith(" nps-risk keygen")
    assert "Traceback" in written and "something we did not foresee" in written


def test_debug_by_flag_or_environment_shows_the_traceback(home, monkeypatch):
    monkeypatch.setattr(cli, "_cmd_keygen", _crash)
    with pytest.raises(RuntimeError, match="did not foresee"):
        cli.main(["keygen", "--debug"])
    monkeypatch.setenv("NPS_RISK_DEBUG", "1")
    with pytest.raises(RuntimeError, match="did not foresee"):
        cli.main(["keygen"])


def test_a_real_process_crash_prints_one_line_and_no_traceback(home):
    program = (
        "import serving.cli as cli\n"
        "def crash(args): raise RuntimeError('something we did not foresee')\n"
        "cli._cmd_keygen = crash\n"
        "raise SystemExit(cli.main(['keygen']))\n"
    )
    done = _subprocess(["-c", program], home)
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert str(home / "outputs" / "logs" / "nps-risk.log") in done.stderr
    debug = _subprocess(["-c", program], home, NPS_RISK_DEBUG="1")
    assert "Traceback" in debug.stderr and debug.returncode == 1
