"""The objects a request needs (settings, engine client, preprocessing pool, analyzer, metrics), built once
per app and reached by routes through `request.app.state.services`, so tests can build an app around fakes."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from service.api.analysis.analyzer import Analyzer
from service.api.analysis.preprocessing import Preprocessor
from service.api.engine.client import EngineClient
from service.api.metrics import GatewayMetrics
from service.api.settings import Settings


@dataclass
class Services:
    settings: Settings
    metrics: GatewayMetrics
    engine: EngineClient
    analyzer: Analyzer
    preprocessor: Preprocessor | None = None  # started in the app's lifespan unless injected


def get_services(request: Request) -> Services:
    return request.app.state.services


def get_preprocessor(request: Request) -> Preprocessor:
    preprocessor = get_services(request).preprocessor
    assert preprocessor is not None, "the preprocessing pool starts with the app"
    return preprocessor
