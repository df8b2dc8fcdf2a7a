"""Simulator configuration, read from the environment (``SIM_*``) or a dict."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

DEFAULT_API_VERSION = "2026-10-28.endive"


@dataclass
class SimConfig:
    webhook_url: str = ""
    webhook_secret: str = "whsec_dev_secret"
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 60.0
    max_attempts: int = 10
    webhook_timeout_seconds: float = 10.0
    api_version: str = DEFAULT_API_VERSION

    # env var name -> field name
    ENV = {
        "SIM_WEBHOOK_URL": "webhook_url",
        "SIM_WEBHOOK_SECRET": "webhook_secret",
        "SIM_RETRY_BASE_SECONDS": "retry_base_seconds",
        "SIM_RETRY_MAX_SECONDS": "retry_max_seconds",
        "SIM_MAX_ATTEMPTS": "max_attempts",
        "SIM_WEBHOOK_TIMEOUT_SECONDS": "webhook_timeout_seconds",
        "SIM_API_VERSION": "api_version",
    }

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> SimConfig:
        environ = os.environ if environ is None else environ
        cfg = cls()
        for env_name, field_name in cls.ENV.items():
            if env_name in environ:
                cfg.set(field_name, environ[env_name], source=env_name)
        for key, value in (overrides or {}).items():
            field_name = cls.ENV.get(key, key.lower())
            cfg.set(field_name, value, source=key)
        return cfg

    def set(self, field_name: str, value: Any, source: str | None = None) -> None:
        types = {f.name: f.type for f in fields(self)}
        if field_name not in types:
            raise ValueError(f"unknown simulator setting {source or field_name!r}")
        name = source or field_name
        kind = types[field_name]
        if kind in ("float", float):
            try:
                parsed: Any = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be a number, got {value!r}") from None
            if parsed < 0:
                raise ValueError(f"{name} must not be negative")
        elif kind in ("int", int):
            try:
                parsed = int(value)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be an integer, got {value!r}") from None
            if parsed < 1:
                raise ValueError(f"{name} must be at least 1")
        else:
            parsed = "" if value is None else str(value).strip()
        if field_name == "webhook_secret" and not parsed:
            raise ValueError(f"{name} must not be empty")
        setattr(self, field_name, parsed)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
