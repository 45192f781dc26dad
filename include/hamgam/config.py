"""hamgam settings: one YAML file, validated once with pydantic.

Readable at DAG-parse time: it touches no database and no network. Secrets never live here;
every connection is named by its Airflow connection id.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "hamgam.yaml"
ENTITIES = ("identities",)


class ConfigError(ValueError):
    """The settings file is missing or invalid; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CompanyConfig(_Strict):
    code: int = Field(ge=100, le=999, description="Company code that prefixes every CRM number")
    name: str = ""
    tadbir_conn_id: str = "tadbir_default"
    default: bool = False
    enabled: bool = True
    sync_from_fiscal_year: int | None = Field(default=None, description="Jalali year; older periods are not synced")
    entities: dict[str, bool] = Field(default_factory=dict, description="Per-entity switches; missing means on")

    @field_validator("entities")
    @classmethod
    def _known_entities(cls, value: dict[str, bool]) -> dict[str, bool]:
        unknown = sorted(set(value) - set(ENTITIES))
        if unknown:
            raise ValueError(f"unknown entities {unknown}; known: {list(ENTITIES)}")
        return value

    def syncs(self, entity: str) -> bool:
        return self.enabled and self.entities.get(entity, True)


class IdentitiesConfig(_Strict):
    kind_policy: Literal["organization", "by_register_code"] = "by_register_code"
    customer_number_template: str = "{companyCode}-{*(AN)}"
    person_type_code: str = "person"
    organization_type_code: str = "organization"
    category_key: str | None = None
    transfer_address: bool = True


class SyncConfig(_Strict):
    schedule: str | None = "*/2 * * * *"
    chunk_size: int = Field(default=500, ge=1, le=100_000)
    max_bad_share: float = Field(default=0.5, gt=0, le=1)
    max_delete_share: float = Field(default=0.5, gt=0, le=1, description="Larger delete waves need a confirmation")
    min_batch_for_bad_share: int = Field(default=10, ge=1)
    crm_max_workers: int = Field(default=4, ge=1, le=64)
    retries: int = Field(default=2, ge=0)
    retry_delay_seconds: int = Field(default=30, ge=0)
    lease_ttl_seconds: int = Field(default=600, ge=1)  # renewed per chunk
    crm_conn_id: str = "payamgostar_default"
    state_conn_id: str = "hamgam_state"


class AlertsConfig(_Strict):
    email_to: list[str] = Field(default_factory=list)
    from_email: str | None = None
    smtp_conn_id: str = "smtp_default"


class HamgamConfig(_Strict):
    companies: list[CompanyConfig]
    identities: IdentitiesConfig = IdentitiesConfig()
    sync: SyncConfig = SyncConfig()
    alerts: AlertsConfig = AlertsConfig()

    @model_validator(mode="after")
    def _companies_consistent(self) -> HamgamConfig:
        if not self.companies:
            raise ValueError("at least one company is required")
        codes = [c.code for c in self.companies]
        if len(set(codes)) != len(codes):
            raise ValueError(f"company codes must be unique, got {codes}")
        if sum(c.default for c in self.companies) > 1:
            raise ValueError("at most one company may be the default")
        return self

    def company(self, code: int) -> CompanyConfig:
        for company in self.companies:
            if company.code == code:
                return company
        raise ConfigError(f"company {code} is not configured (known: {[c.code for c in self.companies]})")

    def companies_for(self, entity: str) -> list[int]:
        return [c.code for c in self.companies if c.syncs(entity)]


def config_path() -> Path:
    return Path(os.environ.get("HAMGAM_CONFIG", DEFAULT_CONFIG))


def parse_config(text: str, source: str = "<string>") -> HamgamConfig:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    try:
        return HamgamConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{source}: {problems}") from exc


@lru_cache(maxsize=8)
def _load(path: str) -> HamgamConfig:
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"settings file {file} not found (set HAMGAM_CONFIG)")
    return parse_config(file.read_text(encoding="utf-8"), str(file))


def load_config() -> HamgamConfig:
    """The validated settings from HAMGAM_CONFIG (default: the repo's config/hamgam.yaml)."""
    return _load(str(config_path()))
