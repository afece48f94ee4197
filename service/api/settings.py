"""Every gateway setting, read from FACELLAVA_* environment variables (one documented object).

Defaults are safe for a public deployment: no URL fetching, CORS off, bounded bodies and in-flight work. An
API key set (FACELLAVA_API_KEYS or FACELLAVA_API_KEYS_FILE) turns authentication on for every route except the
probes (/healthz, /readyz) and the API description (/openapi.json, /docs).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.preprocess.decode_limits import PreprocessLimits

# Lists come from the environment as comma-separated values ("a.example,b.example").
CommaList = Annotated[list[str], NoDecode]

# Room around the media in a body: JSON keys and options, or multipart headers and form fields.
ENVELOPE_BYTES = 1_000_000


def body_bytes_for(media_bytes: int) -> int:
    """The largest body that carries a `media_bytes` file: base64 in JSON (4 bytes per 3) plus the envelope."""
    return 4 * -(-media_bytes // 3) + ENVELOPE_BYTES


def _default_max_body_bytes() -> int:
    """The body limit follows FACELLAVA_PREPROCESS_MAX_BYTES (the media limit), so that every medium the face
    pipeline accepts also fits in a request: one knob sets the upload size."""
    return body_bytes_for(PreprocessLimits().max_bytes)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FACELLAVA_", extra="ignore")

    # Engine (vLLM's OpenAI server with the Face-LLaVA plugin)
    engine_url: str = Field("http://127.0.0.1:8001", description="base URL of the vLLM engine")
    engine_model: str | None = Field(None, description="served model name; default: the engine's first model")
    engine_timeout_s: float = Field(120.0, gt=0, description="longest one engine call may take")
    engine_connect_timeout_s: float = Field(
        10.0, gt=0, description="time to open a connection; a busy host accepts slowly, and a failed connect is "
        "retried once"
    )
    engine_api_key: SecretStr | None = Field(
        None, description="bearer key the engine requires (its VLLM_API_KEY); sent on every engine call"
    )
    readiness_timeout_s: float = Field(2.0, gt=0, description="time the engine's /health may take in /readyz")
    engine_health_path: str = Field(
        "/health", description="the engine's health route for /readyz; behind vllm-router: /readiness (200 while "
        "one replica is healthy; the router's /health is 503 as soon as any replica is down)"
    )
    engine_info_ttl_s: float = Field(
        30.0, ge=0, description="how long the engine's landmark mode and revision are cached"
    )

    # Requests
    request_timeout_s: float = Field(180.0, gt=0, description="whole-request budget; past it: 504")
    max_body_bytes: int = Field(
        default_factory=_default_max_body_bytes,
        gt=0,
        description="larger bodies get 413 before being read; default: a FACELLAVA_PREPROCESS_MAX_BYTES file "
        "base64-encoded plus 1 MB",
    )
    max_in_flight: int = Field(
        32, gt=0, description="concurrent /analyze and chat requests whose body is in; more get 429"
    )
    body_timeout_s: float = Field(
        120.0, gt=0, description="longest time to receive one request body; slower clients get 408"
    )
    max_buffered_body_bytes: int | None = Field(
        None,
        gt=0,
        description="bytes of request bodies held at once across all requests (parsing costs about 2.3x "
        "more); a body that would pass it gets 429; default: 4 x max_body_bytes",
    )
    retry_after_s: int = Field(2, gt=0, description="Retry-After sent with 429 and 503")
    max_faces_limit: int = Field(10, gt=0, description="largest max_faces a request may ask for")
    default_max_faces: int = Field(5, gt=0)
    default_landmarks: Literal["auto", "on", "off"] = "auto"

    # Sampling bounds (requests may override within them)
    default_max_tokens: int = Field(512, gt=0, description="max_tokens of a request that gives none")
    max_tokens_limit: int = Field(1024, gt=0, description="largest max_tokens accepted (the official cap)")
    uncertain_below: float = Field(
        0.5,
        ge=0,
        le=1,
        description="a single-label answer whose label's class score is below this is marked uncertain",
    )
    max_temperature: float = Field(2.0, ge=0, description="largest temperature accepted")

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

    @model_validator(mode="after")
    def _defaults_within_limits(self) -> Settings:
        if self.default_max_tokens > self.max_tokens_limit:
            raise ValueError("default_max_tokens must not exceed max_tokens_limit")
        if self.default_max_faces > self.max_faces_limit:
            raise ValueError("default_max_faces must not exceed max_faces_limit")
        return self

    @property
    def body_budget_bytes(self) -> int:
        """The global byte budget for bodies being received or parsed (never below one largest body)."""
        return max(self.max_buffered_body_bytes or 4 * self.max_body_bytes, self.max_body_bytes)

    @cached_property
    def preprocess_limits(self) -> PreprocessLimits:
        """The face pipeline's limits (FACELLAVA_PREPROCESS_*), which the gateway's pool and checks share."""
        return PreprocessLimits()

    @cached_property
    def accepted_keys(self) -> frozenset[str]:
        """All bearer keys, from the environment and the key file; empty means authentication is off."""
        keys = {key.get_secret_value() for key in self.api_keys}
        if self.api_keys_file is not None:
            lines = self.api_keys_file.read_text().splitlines()
            keys.update(line.strip() for line in lines if line.strip() and not line.startswith("#"))
        return frozenset(keys)
