"""hamgam settings: one YAML file, read and validated once (the models: ``hamgam.settings``).

Each entity's top-level section (``identities``, ``sales_invoices`` ...) is validated by its spec's settings
model (``EntitySpec.settings``), over the spec's defaults; a section or a switch no spec owns is an error
naming it. Readable at DAG-parse time: it touches no database and no network.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hamgam.entities import SPECS
from hamgam.settings import (
    AlertsConfig,
    ChangeCapture,
    CompanyConfig,
    ConfigError,
    EntitySettings,
    HamgamConfig,
    LimitsConfig,
    ReverseConfig,
    SyncConfig,
)

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "hamgam.yaml"


def _problems(exc: ValidationError, *within: str) -> list[str]:
    """Each error of ``exc`` as ``where.the.field: why`` (``within``: the section it was validated as)."""
    return [f"{'.'.join(str(p) for p in (*within, *err['loc'])) or '(top)'}: {err['msg']}" for err in exc.errors()]


def _entity_sections(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``data`` with every entity's section validated over its spec's defaults, and the problems found."""
    out, problems = dict(data), []
    unknown = sorted(set(data) - set(HamgamConfig.model_fields) - set(SPECS))
    if unknown:
        problems.append(f"unknown settings {unknown}; entity sections: {list(SPECS)}")
    for name, spec in SPECS.items():
        given = data.get(name)
        if given is not None and not isinstance(given, dict):
            problems.append(f"{name}: a mapping of settings is expected, not {type(given).__name__}")
            continue
        try:
            out[name] = type(spec.settings).model_validate({**spec.settings.model_dump(), **(given or {})})
        except ValidationError as exc:
            problems += _problems(exc, name)
    return out, problems


def _switch_problems(config: HamgamConfig) -> list[str]:
    return [f"companies.{i}.entities: unknown entities {unknown}; known: {list(SPECS)}"
            for i, company in enumerate(config.companies) if (unknown := sorted(set(company.entities) - set(SPECS)))]


def parse_config(text: str, source: str = "<string>") -> HamgamConfig:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a mapping of settings is expected, not {type(data).__name__}")
    data, problems = _entity_sections(data)
    config = None
    try:
        config = HamgamConfig.model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc) + problems
    if config is not None:
        problems += _switch_problems(config)
    if problems or config is None:
        raise ConfigError(f"{source}: {'; '.join(problems)}")
    config._off_by_default = frozenset(name for name, spec in SPECS.items() if spec.assumption)
    return config


def config_path() -> Path:
    return Path(os.environ.get("HAMGAM_CONFIG", DEFAULT_CONFIG))


@lru_cache(maxsize=8)
def _load(path: str) -> HamgamConfig:
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"settings file {file} not found (set HAMGAM_CONFIG)")
    return parse_config(file.read_text(encoding="utf-8"), str(file))


def load_config() -> HamgamConfig:
    """The validated settings from HAMGAM_CONFIG (default: the repo's config/hamgam.yaml)."""
    return _load(str(config_path()))


__all__ = ["DEFAULT_CONFIG", "AlertsConfig", "ChangeCapture", "CompanyConfig", "ConfigError", "EntitySettings",
           "HamgamConfig", "LimitsConfig", "ReverseConfig", "SyncConfig", "config_path", "load_config",
           "parse_config"]
