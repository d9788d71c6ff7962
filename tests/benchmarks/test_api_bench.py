"""The API benchmark's arithmetic and parsing, without servers: percentiles, wrk's report,
and the fallback client's reading of HTTP answers."""

import asyncio
import math

import pytest

from benchmarks.api_bench import (
    latency_summary,
    parse_head,
    parse_wrk,
    percentile,
    read_response,
    wrk_script,
)

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


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0.1) == 1
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))


def test_latency_summary_reports_ms_and_rate():
    timings_ns = [1_000_000] * 98 + [5_000_000, 9_000_000]  # 98 x 1 ms, one 5 ms, one 9 ms
    summary = latency_summary(list(reversed(timings_ns)), elapsed_s=0.5, errors=3)
    assert summary["requests"] == 100
    assert summary["req_per_s"] == pytest.approx(200.0)
    assert summary["p50_ms"] == pytest.approx(1.0)
    assert summary["p99_ms"] == pytest.approx(5.0)
    assert summary["max_ms"] == pytest.approx(9.0)
    assert summary["errors"] == 3


def test_parse_wrk_reads_the_done_hook_line():
    figures = parse_wrk(WRK_OUTPUT)
    assert figures["requests"] == 2486
    assert figures["req_per_s"] == pytest.approx(2486 / 3.006345)
    assert figures["p50_ms"] == pytest.approx(1.17)
    assert figures["p99_ms"] == pytest.approx(4.27)
    assert figures["errors"] == 3  # non-2xx and timeouts both count


def test_parse_wrk_without_the_line_says_so():
    with pytest.raises(ValueError, match="no WRK_JSON line"):
        parse_wrk("Running 3s test\nunable to connect to 127.0.0.1:1 Connection refused\n")


def test_wrk_script_quotes_body_path_and_headers():
    script = wrk_script('/tmp/a "b"/body.json', {"Authorization": "Bearer k"})
    assert 'io.open("/tmp/a \\"b\\"/body.json", "rb")' in script
    assert 'wrk.headers["Authorization"] = "Bearer k"' in script
    assert "latency:percentile(99)" in script


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\ncontent-type: a/b\r\n\r\n", (200, 12, False)),
        (b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", (401, 0, False)),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", (200, None, True)),
    ],
)
def test_parse_head(head, expected):
    assert parse_head(head) == expected


def test_read_response_consumes_exactly_one_answer():
    """Keep-alive: fixed-length and chunked bodies are read to their end and no further."""
    answers = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3\r\nabc\r\n0\r\n\r\n"
        b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"
    )

    async def read_all() -> list[int]:
        reader = asyncio.StreamReader()
        reader.feed_data(answers)
        reader.feed_eof()
        statuses = [await read_response(reader) for _ in range(3)]
        assert reader.at_eof()
        return statuses

    assert asyncio.run(read_all()) == [200, 200, 503]
