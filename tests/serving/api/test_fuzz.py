"""Schemathesis fuzzes every operation of our OpenAPI schema: no input yields a 5xx.

Driven through its strategy API inside a plain test (its pytest plugin does not run on
pytest 9 yet), against the real server.
"""

import os

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.serving.conftest import USER_KEY

# CI runs one fixed exploration; NPS_RISK_FUZZ_RANDOM=1 explores afresh on each run.
RANDOM = os.environ.get("NPS_RISK_FUZZ_RANDOM")


def test_no_input_gives_a_server_error(api_server):
    schema = schemathesis.openapi.from_url(f"{api_server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/predict", "/v1/model", "/v1/admin/reload"}
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=60,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=RANDOM is None,
        )
        def run(case):
            response = case.call(
                base_url=api_server.url, headers={"Authorization": f"Bearer {USER_KEY}"}
            )
            if response.status_code >= 500 or "Traceback" in response.text:
                failures.append(
                    f"{case.method} {case.path} {case.body!r:.200}: {response.status_code} {response.text[:200]}"
                )

        run()
    assert not failures, "\n".join(failures[:10])
