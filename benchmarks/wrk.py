"""wrk, the load generator of the API benchmark: its Lua script, its run, its figures.

wrk (Debian's package ``wrk``) is a C client on an event loop: keep-alive connections in a
closed loop, latency kept in a histogram, 0.04-0.09 ms of CPU per request (a tenth of
httpx's or less; figures atop ``api_bench``), so on 2 shared cores the CPU stays with the server.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

INSTALL = "apt-get update && apt-get install -y wrk (Debian, Ubuntu); brew install wrk (macOS)"

POST_SETUP = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{headers}
local f = assert(io.open({body_path}, "rb"))
wrk.body = f:read("*a")
f:close()
"""

DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_JSON {{\\"requests\\": %d, \\"duration_us\\": %d, \\"connect_errors\\": %d, " ..
    "\\"read_errors\\": %d, \\"write_errors\\": %d, \\"status_errors\\": %d, " ..
    "\\"timeouts\\": %d, \\"p50_us\\": %.1f, \\"p90_us\\": %.1f, \\"p99_us\\": %.1f, " ..
    "\\"max_us\\": %.1f, \\"mean_us\\": %.1f}}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""


def missing() -> str | None:
    """None when wrk is on PATH; else what to install."""
    if shutil.which("wrk"):
        return None
    return f"it needs wrk on PATH, the load generator; install it: {INSTALL}"


def _header_lines(headers: dict[str, str]) -> str:
    return "\n".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())


def script(body_path: str, headers: dict[str, str]) -> str:
    """A Lua script that POSTs the file's bytes and prints its figures as one JSON line."""
    setup = POST_SETUP.format(headers=_header_lines(headers), body_path=json.dumps(body_path))
    return setup + DONE.replace("{{", "{").replace("}}", "}")


def get_script(headers: dict[str, str]) -> str:
    """A Lua script that GETs the URL and prints its figures as one JSON line."""
    return _header_lines(headers) + "\n" + DONE.replace("{{", "{").replace("}}", "}")


def parse(stdout: str) -> dict[str, Any]:
    """The figures the script's ``done`` hook printed: requests, req/s, latency in ms, errors."""
    for line in stdout.splitlines():
        if line.startswith("WRK_JSON "):
            raw = json.loads(line.removeprefix("WRK_JSON "))
            seconds = raw["duration_us"] / 1e6
            errors = sum(
                raw[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors")
            )
            return {
                "requests": raw["requests"],
                "req_per_s": raw["requests"] / seconds if seconds > 0 else float("nan"),
                "p50_ms": raw["p50_us"] / 1000,
                "p90_ms": raw["p90_us"] / 1000,
                "p99_ms": raw["p99_us"] / 1000,
                "max_ms": raw["max_us"] / 1000,
                "errors": errors + raw["timeouts"],
            }
    raise ValueError(f"no WRK_JSON line in wrk's output:\n{stdout[-2000:]}")


def post(
    url: str, body_path: str, headers: dict[str, str], concurrency: int, seconds: int, work: Path
) -> dict[str, Any]:
    """POST the body to ``url`` on ``concurrency`` connections for ``seconds``; its figures."""
    return _run(url, script(body_path, headers), concurrency, seconds, work / "post.lua")


def get(
    url: str, headers: dict[str, str], concurrency: int, seconds: int, work: Path
) -> dict[str, Any]:
    """GET ``url`` on ``concurrency`` connections for ``seconds``; its figures."""
    return _run(url, get_script(headers), concurrency, seconds, work / "get.lua")


def _run(url: str, lua_text: str, concurrency: int, seconds: int, lua: Path) -> dict[str, Any]:
    lua.write_text(lua_text)
    # one client thread: a second one would only take CPU from the server on 2 cores
    argv = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "10s"]
    done = subprocess.run(
        [*argv, "--latency", "-s", str(lua), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    return parse(done.stdout)
