"""Schemathesis against the REAL stack (issue 10, finding 8): the e2e gateway with its real preprocessing workers
in front of the real vLLM engine with the tiny model, authenticated. Whatever the body, headers or parameters, no
response is a 5xx and every response matches the schema. tests/gateway/test_schema_fuzz.py does the same, with
more cases, against the fake engine; here the cases per operation are few, so the module stays near a minute."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.e2e.conftest import API_KEY

pytestmark = [pytest.mark.engine]


@pytest.fixture
def real_schema(gateway):
    return schemathesis.openapi.from_url(f"{gateway.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("real_schema")


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_real_stack_has_no_server_errors(case):
    response = case.call(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=120)
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
