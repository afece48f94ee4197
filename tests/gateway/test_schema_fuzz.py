"""Property-based fuzzing of every operation in the gateway's OpenAPI schema (schemathesis): whatever the
body, headers or parameters, no response is a 5xx other than the documented engine refusals, and every
response matches the schema. The example count is bounded so the suite stays well under two minutes."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

schema = schemathesis.pytest.from_fixture("fuzz_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    response = case.call(timeout=30)
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
