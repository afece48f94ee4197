"""The gateway tests' fake engine, for the task tests that run the Analyzer against it."""

from tests.gateway.conftest import engine, engine_state, gateway_settings

__all__ = ["engine", "engine_state", "gateway_settings"]
