"""The wrk driver: its Lua script, the reading of its report, and one real run on loopback
(skipped where wrk is not installed: the benchmark itself stops and names it)."""

import json
import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchmarks import wrk

WRK_OUTPUT = """\
Running 3s test @ http://127.0.0.1:8000/v1/predict
  1 threads and 1 connections
  Latency Distribution
     50%    1.17ms
  2486 requests in 3.01s, 1.63MB read
Requests/sec:    826.91
WRK_JSON {"requests": 2486, "duration_us": 3006345, "connect_errors": 0, "read_errors": 0, \
"write_errors": 0, "status_errors": 2, "timeouts": 1, "p50_us": 1170.0, "p90_us": 1730.0, \
"p99_us": 4270.0, "max_us": 6910.0, "mean_us": 1201.5}
"""


def test_parse_reads_the_done_hook_line():
    figures = wrk.parse(WRK_OUTPUT)
    assert figures["requests"] == 2486
    assert figures["req_per_s"] == pytest.approx(2486 / 3.006345)
    assert figures["p50_ms"] == pytest.approx(1.17)
    assert figures["p90_ms"] == pytest.approx(1.73)
    assert figures["p99_ms"] == pytest.approx(4.27)
    assert figures["max_ms"] == pytest.approx(6.91)
    assert figures["errors"] == 3  # non-2xx and timeouts both count


def test_parse_without_the_line_says_so():
    with pytest.raises(ValueError, match="no WRK_JSON line"):
        wrk.parse("Running 3s test\nunable to connect to 127.0.0.1:1 Connection refused\n")


def test_script_quotes_body_path_and_headers():
    script = wrk.script('/tmp/a "b"/body.json', {"Authorization": "Bearer k"})
    assert 'io.open("/tmp/a \\"b\\"/body.json", "rb")' in script
    assert 'wrk.headers["Authorization"] = "Bearer k"' in script
    assert "latency:percentile(99)" in script


def test_missing_names_wrk_and_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    message = wrk.missing()
    assert message is not None
    assert "wrk" in message
    assert "apt-get install -y wrk" in message
    fake = tmp_path / "wrk"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert wrk.missing() is None


class _Answer(BaseHTTPRequestHandler):
    """200 with the body's length if the POST carries the key and a JSON body, else 401."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = self.headers.get("Authorization") == "Bearer k" and json.loads(body) == {"a": 1}
        answer = json.dumps({"length": len(body)}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_post_sends_the_body_and_headers_and_counts_refusals(tmp_path):
    """A real wrk against a tiny server on 127.0.0.1: 1 s with the key, 1 s without."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1/predict"
    body = tmp_path / "body.json"
    body.write_text('{"a": 1}')
    try:
        good = wrk.post(url, os.fspath(body), {"Authorization": "Bearer k"}, 2, 1, tmp_path)
        bad = wrk.post(url, os.fspath(body), {}, 1, 1, tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    assert good["requests"] > 0
    assert good["errors"] == 0
    assert 0 < good["p50_ms"] <= good["p99_ms"] <= good["max_ms"]
    assert bad["requests"] > 0
    assert bad["errors"] == bad["requests"]  # every 401 is a status error
