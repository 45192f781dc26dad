"""Sandbox settings: where state lives, the demo credentials, the fault knobs, the CRM's
configuration (product units, receipt, payment, purchase invoice and purchase return subtype
codes) and its webhooks."""

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "PG_SANDBOX_"

# Settings that may be changed while the server runs (POST /_sandbox/settings).
RUNTIME_FIELDS = (
    "token_ttl_seconds",
    "latency_ms",
    "error_rate",
    "error_after_commit_rate",
    "rate_limit_rate",
    "retry_after_seconds",
    "slow_rate",
    "slow_ms",
    "html_page_rate",
    "html_after_commit_rate",
    "truncated_json_rate",
    "truncated_soap_rate",
    "soap_fault_after_commit_rate",
    "seed",
    "product_units",
    "receipt_type_code",
    "payment_type_code",
    "purchase_invoice_type_code",
    "purchase_return_type_code",
    "identity_type_codes",
    "quote_type_codes",
    "sales_invoice_type_codes",
    "sales_return_type_codes",
    "soap_refusal",
    "soap_denied_operations",
    "soap_fault_numbers",
    "webhook_identity_url",
    "webhook_quote_url",
    "webhook_events",
    "webhook_timeout_seconds",
    "webhook_attempts",
    "webhook_retry_delay_ms",
    "webhook_drop_rate",
    "webhook_person_subtype",
    "webhook_organization_subtype",
    "webhook_quote_subtype",
)

_RATES = ("error_rate", "error_after_commit_rate", "rate_limit_rate", "slow_rate", "webhook_drop_rate",
          "html_page_rate", "html_after_commit_rate", "truncated_json_rate", "truncated_soap_rate",
          "soap_fault_after_commit_rate")
_NON_NEGATIVE = ("token_ttl_seconds", "latency_ms", "retry_after_seconds", "slow_ms", "webhook_retry_delay_ms")
WEBHOOK_EVENTS = ("Insert", "Update", "Delete")  # the CRM's event types (§6)
SOAP_REFUSALS = ("fault", "result")  # how SOAP refuses credentials or a permission (soap_refusal)
PURCHASE_TYPE_CODES = ("purchase_invoice_type_code", "purchase_return_type_code")


@dataclass(frozen=True)
class SandboxSettings:
    db_path: str = "data/sandbox.sqlite"
    username: str = "hamgam"
    password: str = "hamgam-demo"
    token_ttl_seconds: float = 7200.0
    latency_ms: int = 0
    error_rate: float = 0.0
    error_after_commit_rate: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after_seconds: int = 1
    slow_rate: float = 0.0
    slow_ms: int = 0
    # Bad answers with status 200 (shares of calls; counted in the stats' `faults` under the name without
    # `_rate`). An HTML page instead of the answer, nothing done (any call); an HTML page after a committed
    # write; the work's own 200 answer cut short: JSON (REST calls) or the SOAP envelope (SOAP calls);
    # an `s:Client` fault (HTTP 500) after a committed SOAP write.
    html_page_rate: float = 0.0
    html_after_commit_rate: float = 0.0
    truncated_json_rate: float = 0.0
    truncated_soap_rate: float = 0.0
    soap_fault_after_commit_rate: float = 0.0
    seed: int | None = None
    # the unit names SaveProduct accepts in ProductUnitType (comma-separated in flags and env)
    product_units: tuple[str, ...] = ("عدد", "کیلوگرم", "متر", "بسته", "ساعت")
    # the CrmObjectTypeCode of receipts and of payments: SavePayment tells them apart by it
    receipt_type_code: str = "receipt"
    payment_type_code: str = "payment"
    # The CrmObjectTypeCode of this CRM's purchase invoices (REST invoice/purchase) and purchase returns
    # (SaveReturnInvoice with CrmObjectTypeIndex 16). A purchase invoice or return with another code is
    # refused, and so is any other record (a quote, a sales invoice or return) with one of these two: in
    # the CRM a subtype belongs to one object type.
    purchase_invoice_type_code: str = "purchase_invoice"
    purchase_return_type_code: str = "purchase_return"
    # The subtypes (user keys) ICrmObjectType lists for identities, quotes, sales invoices and sales returns, besides the
    # codes above for receipts, payments and purchase documents. Saves without a CrmObjectTypeId take any code;
    # a Save* whose CrmObjectTypeId is given must name a listed subtype of the record's index, with its code.
    identity_type_codes: tuple[str, ...] = ("person", "organization")  # Identity (24): persons and organizations
    quote_type_codes: tuple[str, ...] = ("quote",)
    sales_invoice_type_codes: tuple[str, ...] = ("sales_invoice",)
    sales_return_type_codes: tuple[str, ...] = ("sales_return",)
    # How SOAP refuses a wrong user name or password, or an operation listed in `soap_denied_operations`
    # ("Op", "IService/Op" or "*": the user lacks that permission): "fault" (an s:Client fault, HTTP 500) or
    # "result" (HTTP 200, the operation's result with Success=false and the reason in Message). Which one the
    # real CRM does is unknown (§7).
    soap_refusal: str = "fault"
    soap_denied_operations: tuple[str, ...] = ()
    # Documents the CRM's service breaks on: a Save* of a record with one of these numbers (Number, a
    # product's Code) answers an a:InternalServiceFault every time, nothing saved (a record whose data trips
    # the vendor's code; every other record is served).
    soap_fault_numbers: tuple[str, ...] = ()
    # Webhooks (§6): GET <url>?event=..&id=..&type=..&subtype=.. after a committed write; an empty
    # URL sends none. Persons and organizations share the identity URL. The observed CRM sends
    # Insert and Update only; add Delete to `webhook_events` to get deletes too.
    webhook_identity_url: str = ""
    webhook_quote_url: str = ""
    webhook_events: tuple[str, ...] = ("Insert", "Update")
    webhook_timeout_seconds: float = 5.0
    webhook_attempts: int = 3  # tries per webhook: retried on connection errors, timeouts and 5xx
    webhook_retry_delay_ms: int = 500  # before the 2nd try, doubling for each later one
    webhook_drop_rate: float = 0.0  # share of webhooks silently never sent ("missing webhooks")
    # the subtype display names sent as `subtype` (installation-specific in the real CRM)
    webhook_person_subtype: str = "مخاطب حقیقی"
    webhook_organization_subtype: str = "مخاطب حقوقی"
    webhook_quote_subtype: str = "پیش فاکتور کالا"

    def __post_init__(self) -> None:
        for name in _RATES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        for name in _NON_NEGATIVE:
            value = getattr(self, name)
            if value < 0:
                raise ValueError(f"{name} must not be negative, got {value!r}")
        if not all(isinstance(unit, str) and unit.strip() for unit in self.product_units):
            raise ValueError(f"product_units must be non-empty names, got {self.product_units!r}")
        for name in ("receipt_type_code", "payment_type_code", *PURCHASE_TYPE_CODES):
            if not getattr(self, name).strip():
                raise ValueError(f"{name} must not be empty")
        if self.receipt_type_code.casefold() == self.payment_type_code.casefold():
            raise ValueError("receipt_type_code and payment_type_code must differ")
        if self.purchase_invoice_type_code.casefold() == self.purchase_return_type_code.casefold():
            raise ValueError("purchase_invoice_type_code and purchase_return_type_code must differ")
        if self.soap_refusal not in SOAP_REFUSALS:
            raise ValueError(f"soap_refusal must be one of {', '.join(SOAP_REFUSALS)}, got {self.soap_refusal!r}")
        self._check_webhooks()

    def _check_webhooks(self) -> None:
        for name in ("webhook_identity_url", "webhook_quote_url"):
            url = getattr(self, name)
            if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname):
                raise ValueError(f"{name} must be empty or an http(s) URL with a host, got {url!r}")
        unknown = [event for event in self.webhook_events if event not in WEBHOOK_EVENTS]
        if unknown:
            raise ValueError(f"webhook_events must be among {', '.join(WEBHOOK_EVENTS)}, got {unknown!r}")
        if self.webhook_timeout_seconds <= 0:
            raise ValueError(f"webhook_timeout_seconds must be positive, got {self.webhook_timeout_seconds!r}")
        if self.webhook_attempts < 1:
            raise ValueError(f"webhook_attempts must be at least 1, got {self.webhook_attempts!r}")
        for name in ("webhook_person_subtype", "webhook_organization_subtype", "webhook_quote_subtype"):
            if not getattr(self, name).strip():
                raise ValueError(f"{name} must not be empty")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "SandboxSettings":
        """Defaults, then `PG_SANDBOX_<FIELD>` variables, then keyword overrides."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + field.name.upper())
            if raw is not None and raw != "":
                values[field.name] = parse_value(field.name, raw)
        values.update(overrides)
        return cls(**values)

    def with_changes(self, changes: Mapping[str, Any]) -> "SandboxSettings":
        """A copy with runtime settings changed; values must already have the right JSON type."""
        for name, value in changes.items():
            if name not in RUNTIME_FIELDS:
                raise ValueError(f"{name} cannot be changed at runtime (allowed: {', '.join(RUNTIME_FIELDS)})")
            _check_type(name, value)
        changes = {name: tuple(value) if isinstance(value, list) else value for name, value in changes.items()}
        return dataclasses.replace(self, **changes)

    def purchase_kind_of(self, type_code: str) -> str | None:
        """"purchase_invoice" or "purchase_return" when `type_code` is that kind's code (ignoring case), else None."""
        codes = {self.purchase_invoice_type_code.casefold(): "purchase_invoice",
                 self.purchase_return_type_code.casefold(): "purchase_return"}
        return codes.get(type_code.casefold())

    def runtime_view(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in RUNTIME_FIELDS}


def field_kind(name: str) -> str:
    """'str', 'int', 'float', 'tuple' (of names) or 'optional_int' for a settings field."""
    default = {f.name: f.default for f in dataclasses.fields(SandboxSettings)}[name]
    return "optional_int" if name == "seed" else type(default).__name__


def parse_value(name: str, raw: str) -> Any:
    """Convert a text value (environment variable, command-line flag) for settings field `name`."""
    kind = field_kind(name)
    if kind == "str":
        return raw
    if kind == "tuple":
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if kind == "optional_int":
        return None if raw.strip().lower() in ("", "none", "null") else int(raw)
    return int(raw) if kind == "int" else float(raw)


def _check_type(name: str, value: Any) -> None:
    kind = field_kind(name)
    # bool is an int in Python but never a valid JSON value for these settings
    ok = not isinstance(value, bool) and (
        (kind == "int" and isinstance(value, int))
        or (kind == "float" and isinstance(value, int | float))
        or (kind == "optional_int" and (value is None or isinstance(value, int)))
        or (kind == "str" and isinstance(value, str))
        or (kind == "tuple" and isinstance(value, list) and all(isinstance(v, str) for v in value))
    )
    if not ok:
        expected = {"str": "a string", "tuple": "a list of strings"}.get(kind)
        expected = expected or ("an integer" if "int" in kind else "a number")
        raise ValueError(f"{name} must be {expected}, got {value!r}")
