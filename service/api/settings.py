"""Every gateway setting, read from FACELLAVA_* environment variables (one documented object).

Defaults are safe for a public deployment: no URL fetching, CORS off, bounded bodies and in-flight work. An
API key set (FACELLAVA_API_KEYS or FACELLAVA_API_KEYS_FILE) turns authentication on for every route except the
probes (/healthz, /readyz) and the API description (/openapi.json, /docs).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Lists come from the environment as comma-separated values ("a.example,b.example").
CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FACELLAVA_", extra="ignore")

    # Engine (vLLM's OpenAI server with the Face-LLaVA plugin)
    engine_url: str = Field("http://127.0.0.1:8001", description="base URL of the vLLM engine")
    engine_model: str | None = Field(None, description="served model name; default: the engine's first model")
    engine_timeout_s: float = Field(120.0, gt=0, description="longest one engine call may take")
    engine_connect_timeout_s: float = Field(3.0, gt=0)
    readiness_timeout_s: float = Field(2.0, gt=0, description="time the engine's /health may take in /readyz")
    engine_info_ttl_s: float = Field(
        30.0, ge=0, description="how long the engine's landmark mode and revision are cached"
    )

    # Requests
    request_timeout_s: float = Field(180.0, gt=0, description="whole-request budget; past it: 504")
    max_body_bytes: int = Field(50_000_000, gt=0, description="larger bodies get 413 before being read")
    max_in_flight: int = Field(32, gt=0, description="concurrent /analyze and chat requests; more get 429")
    retry_after_s: int = Field(2, gt=0, description="Retry-After sent with 429 and 503")
    max_faces_limit: int = Field(10, gt=0, description="largest max_faces a request may ask for")
    default_max_faces: int = Field(5, gt=0)
    default_landmarks: Literal["auto", "on", "off"] = "auto"

    # Sampling bounds (requests may override within them)
    default_max_tokens: int = Field(512, gt=0)
    max_tokens_limit: int = Field(1024, gt=0, description="the official decoding's cap")
    label_only_max_tokens: int = Field(
        48, gt=0, description="tokens when reasoning is off: the label comes first"
    )
    max_temperature: float = Field(2.0, ge=0)

    # Media fetching (SSRF: off unless enabled, and then only from allow-listed hosts)
    url_fetch_enabled: bool = False
    url_allowlist: CommaList = Field(default_factory=list, description="allowed host names for media URLs")
    url_fetch_timeout_s: float = Field(10.0, gt=0)

    # Preprocessing workers
    preprocess_workers: int = Field(2, gt=0)
    preprocess_queue: int = Field(64, gt=0)

    # Security and operations
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="accepted bearer keys"
    )
    api_keys_file: Path | None = Field(None, description="file with one accepted key per line")
    cors_origins: CommaList = Field(default_factory=list, description="empty: CORS off")
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8000

    @field_validator("url_allowlist", "api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @cached_property
    def accepted_keys(self) -> frozenset[str]:
        """All bearer keys, from the environment and the key file; empty means authentication is off."""
        keys = {key.get_secret_value() for key in self.api_keys}
        if self.api_keys_file is not None:
            lines = self.api_keys_file.read_text().splitlines()
            keys.update(line.strip() for line in lines if line.strip() and not line.startswith("#"))
        return frozenset(keys)
