"""The settings' models (pydantic): the general sections, and ``EntitySettings``, the base of each entity's own
section, which its spec module defines. ``hamgam.config`` reads the file into them, the entity sections
checked by their specs. Secrets never live here; every connection is named by its Airflow connection id."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

# how detection finds what changed in Tadbir (README "Change capture"): checksums the database computes per key
# range (read-only, the default), the full hash diff of the scope (the ground truth), or SQL Server Change Tracking
ChangeCapture = Literal["checksum", "scan", "change_tracking"]


class ConfigError(ValueError):
    """The settings file is missing or invalid; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EntitySettings(_Strict):
    """Base of one entity's own settings: its switches, numbering template and CRM type codes. The spec
    carries the defaults (``EntitySpec.settings``); the file's top-level section named after the spec
    overrides them, field by field (``sales_invoices: {type_code: SI_5}``)."""


Settings = TypeVar("Settings", bound=EntitySettings)


def _column(name: str) -> Any:
    return Field(default=name, min_length=1, description=f"The site's name of hamgam's column {name}")


class PayReceiveColumns(_Strict):
    """The columns of the assumed treasury table hamgam reads: hamgam's name → the site's."""

    Id: str = _column("Id")
    FPId: str = _column("FPId")
    Type: str = _column("Type")
    No: str = _column("No")
    Date: str = _column("Date")
    CustomerId: str = _column("CustomerId")
    Amount: str = _column("Amount")
    Kind: str = _column("Kind")
    ChequeNo: str = _column("ChequeNo")
    ChequeDate: str = _column("ChequeDate")
    Status: str = _column("Status")
    Description: str = _column("Description")


class PayReceiveTable(_Strict):
    """Receipts and payments: hamgam's assumed ``__PayReceive__`` (modelled on Tadbir NG's CashFlow.PayReceive;
    no legacy treasury table is public). Type 0 receipt / 1 payment, Kind 0 cash / 1 cheque, Status 1 settled:
    the values are assumptions as well."""

    table: str = Field(default="__PayReceive__", min_length=1)
    columns: PayReceiveColumns = PayReceiveColumns()


class MerchStockQtyColumns(_Strict):
    """The columns of the assumed stock table hamgam reads: hamgam's name → the site's."""

    MerchId: str = _column("MerchId")
    StockRoomId: str = _column("StockRoomId")
    FPId: str = _column("FPId")
    Qty: str = _column("Qty")


class MerchStockQtyTable(_Strict):
    """Live stock per product and warehouse: hamgam's assumed ``__MerchStockQty__`` (Tadbir computes stock with
    a server function nobody has published; a site may keep a table or a view of it)."""

    table: str = Field(default="__MerchStockQty__", min_length=1)
    columns: MerchStockQtyColumns = MerchStockQtyColumns()


class ArticleColumns(_Strict):
    """The columns of the voucher-line table the balance read sums: hamgam's name → the site's."""

    FPId: str = _column("FPId")
    FAccId: str = _column("FAccId")
    Debit: str = _column("Debit")
    Credit: str = _column("Credit")


class ArticleTable(_Strict):
    """A customer's live balance: the voucher lines (``__Article__``) of its detail account (``FAccId``) in a
    fiscal period, debits less credits. The table is Tadbir's (reference section 1.5) but this reading of it is
    hamgam's assumption: no Tadbir balance query is public; a site may name a table or a view of its own."""

    table: str = Field(default="__Article__", min_length=1)
    columns: ArticleColumns = ArticleColumns()


class AssumedTables(_Strict):
    """Where a company's Tadbir keeps what hamgam only assumes (tadbir-schema.md section 7): each table's name
    and columns, today's assumed names by default. The receipts and payments DAGs, the stock and balance endpoints read
    them; a table or column that is not there fails them naming the setting to change."""

    pay_receive: PayReceiveTable = PayReceiveTable()
    merch_stock_qty: MerchStockQtyTable = MerchStockQtyTable()
    article: ArticleTable = ArticleTable()

    def setting_of(self, table: str, column: str | None = None) -> str | None:
        """The setting (``pay_receive.table``, ``pay_receive.columns.ChequeNo``) naming ``table`` (and one of its
        columns, by the site's name); None if ``table`` is not an assumed one."""
        for key in type(self).model_fields:
            names = getattr(self, key)
            if names.table != table:
                continue
            if column is None:
                return f"{key}.table"
            ours = [field for field, theirs in names.columns.model_dump().items() if theirs == column]
            return f"{key}.columns.{ours[0]}" if ours else None
        return None


class CompanyConfig(_Strict):
    code: int = Field(ge=100, le=999, description="Company code that prefixes every CRM number")
    name: str = ""
    tadbir_conn_id: str = "tadbir_default"
    default: bool = False
    enabled: bool = True
    sync_from_fiscal_year: int | None = Field(default=None, ge=1300, le=1500,
                                              description="Jalali year; older periods are not synced")
    entities: dict[str, bool] = Field(default_factory=dict, description="Per-entity switches; missing means on "
                                     "(an entity resting on an unobserved assumption: off)")
    change_capture: ChangeCapture | None = Field(default=None, description="How detection finds changes in this "
                                                 "company's Tadbir; default: sync.change_capture")
    snapshot_reads: bool | None = Field(default=None, description="SQL Server: read under SNAPSHOT isolation "
                                        "(the database must allow it); default: sync.snapshot_reads")
    assumed_tables: AssumedTables = Field(default_factory=AssumedTables, description="The names of the tables "
                                          "(and columns) hamgam assumes in this company's Tadbir")


class ReverseIdentitiesConfig(_Strict):
    enabled: bool = True  # the "CRM → financial" switch
    # crm: identities are created in the CRM and its edits flow to Tadbir; tadbir: the opposite (the reverse
    # flow writes nothing); per_record: each side edits what it created (or what the identity's reference
    # fields say), and only identities present in both are edited
    system_of_record: Literal["crm", "tadbir", "per_record"] = "per_record"
    reference_key: str = Field(default="CustomerReference", description="CRM extended property: crm or tadbir")
    reference_id_key: str = Field(default="ReferenceId", description="CRM extended property: the other side's id")
    allow_update_key: str = Field(default="AllowUpdate", description="CRM extended property (checkbox)")
    detail_account_chain: list[str] = Field(default_factory=lambda: ["1"], min_length=1, max_length=5,
                                            description="Detail-account codes new customers are filed under")
    receivables_account: str = "1103"
    customer_type: int = Field(default=2, description="__Customer__.Type of new customers (2 buyer)")
    price_level: int = 1


class ReverseQuotesConfig(_Strict):
    enabled: bool = True
    floating_coding: bool = True  # on: the next Tadbir number of that year; off: the CRM's own number
    default_warehouse_code: int = 1
    open_fiscal_years: list[int] | None = Field(default=None, description="Years quotes may be written to; "
                                                "default: only each company's newest fiscal period")


class ReverseConfig(_Strict):
    identities: ReverseIdentitiesConfig = ReverseIdentitiesConfig()
    quotes: ReverseQuotesConfig = ReverseQuotesConfig()
    sweep_schedule: str | None = Field(default="*/15 * * * *", description="Cron of the sweep for missed webhooks")
    sweep_overlap_seconds: int = Field(default=300, ge=0, description="How far back each sweep looks again")
    # how display text is written into Tadbir (README "Tadbir writes"): auto — Saman digits and Arabic kaf/yeh
    # into SQL Server CHAR/VARCHAR columns (a code page: 1256 has no Persian digits or ی), as the desktop client
    # is assumed to store them, Persian text as is elsewhere; unicode — never encoded; legacy — always encoded
    tadbir_text: Literal["auto", "unicode", "legacy"] = Field(
        default="auto", description="Tadbir text encoding on write: auto (by column type), unicode or legacy")


class SyncConfig(_Strict):
    schedule: str | None = Field(default="*/30 * * * *", description="Cron of the forward DAGs: the safety net "
                                 "of event-driven runs, or their schedule when sync.event_driven is off")
    chunk_size: int = Field(default=500, ge=1, le=100_000)
    max_bad_share: float = Field(default=0.5, gt=0, le=1)
    max_delete_share: float = Field(default=0.5, gt=0, le=1, description="Larger delete waves need a confirmation")
    min_batch_for_bad_share: int = Field(default=10, ge=1)
    crm_max_workers: int = Field(default=4, ge=1, le=64)
    retries: int = Field(default=2, ge=0)
    retry_delay_seconds: int = Field(default=30, ge=0)
    lease_ttl_seconds: int = Field(default=60, ge=1, description="A load's lease of its company + entity; a "
                                   "heartbeat renews it every third of this, so a dead try's lease is taken "
                                   "over this long after its last renewal")
    reference_wait_seconds: int = Field(default=120, ge=0, description="How long a document load waits for "
                                        "the identities or products lease to sync a missing reference")
    amount_tolerance_rial: int = Field(default=10, ge=0, description="Rounding slack when totals are compared")
    event_driven: bool = Field(default=True, description="Start an entity's DAG within seconds of a save in "
                               "Tadbir: a probe per company and entity in Airflow's triggerer emits an asset "
                               "event; sync.schedule stays as the safety net")
    probe_interval_seconds: float = Field(default=1.0, ge=0.2, le=3600, description="How often each probe "
                                          "reads its token from Tadbir (event_driven)")
    probe_timeout_seconds: float = Field(default=10.0, gt=0, le=600, description="A probe that takes longer "
                                         "counts as failed (logged once) and polling goes on")
    reconcile_schedule: str | None = Field(default="0 3 * * *", description="Cron of hamgam_drift_report: every "
                                           "company and entity read in full (scan) and compared with what the "
                                           "fast change capture queued; a miss is synced and alerted. None: on "
                                           "demand only")
    adoption: Literal["first_load", "always"] = Field(
        default="first_load", description="When a new record looks for a CRM record holding its number (or "
        "code) before it is created: first_load — only until a load of its company, entity (and fiscal year) "
        "has once emptied the queue (the CRM's existing records are adopted then), and after a create that "
        "may have landed unanswered; always — before every create (2-3 calls per new record instead of 1), "
        "for a site whose users also type Tadbir's numbers into the CRM by hand")
    settle_batch_size: int = Field(default=200, ge=1, le=10_000, description="Outcomes written to the ledger "
                                   "per transaction during a load (hamgam.ledger.batch)")
    settle_max_seconds: float = Field(default=0.05, gt=0, le=600, description="The longest an outcome waits to "
                                      "be written with others")
    prepare_process_from: int | None = Field(default=250, ge=1, description="A load of at least this many "
                                             "queued records reads, prepares and validates its chunks in a "
                                             "second (forked) process while this one sends, and its chunks' calls "
                                             "follow each other without a gap (hamgam.preparer, hamgam.lane); "
                                             "null: always in the load's own process")
    crm_conn_id: str = "payamgostar_default"
    state_conn_id: str = "hamgam_state"
    change_capture: ChangeCapture = Field(default="checksum", description="Default of every company's "
                                          "change_capture: checksum, scan or change_tracking")
    checksum_range_size: int = Field(default=1000, ge=10, le=1_000_000, description="Ids per key range whose "
                                     "checksum the database computes (checksum change capture)")
    read_lock_timeout_ms: int = Field(default=5000, ge=0, le=600_000, description="How long a Tadbir read waits "
                                      "for a lock before it gives up (retriable); 0 = do not wait")
    snapshot_reads: bool = Field(default=False, description="SQL Server: read under SNAPSHOT isolation; only "
                                 "where the database has ALLOW_SNAPSHOT_ISOLATION ON (an assumption per site)")
    tadbir_timezone: str = Field(default="Asia/Tehran", description="The time zone of Tadbir's dates (naive wall "
                                 "time; an assumption per site): what hamgam's clock is turned into where it "
                                 "fills or compares one")

    @field_validator("tadbir_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"sync.tadbir_timezone: unknown time zone {value!r}") from error
        return value


class LimitsConfig(_Strict):
    """Longest text, in characters, the CRM is sent. The vendor's contract (REST reference, WSDL/XSDs) states
    no lengths, so these are hamgam's conservative assumptions: a longer name, code, address, e-mail or
    place is invalid (the field named); longer free text (descriptions) is cut (see ``transform.limits``)."""

    name: int = Field(default=250, ge=1, description="Names: customers, products, sellers")
    code: int = Field(default=50, ge=1, description="Codes and numbers: customer, product, economic, register, "
                      "document and cheque numbers")
    address: int = Field(default=500, ge=1)
    email: int = Field(default=254, ge=1)
    place: int = Field(default=100, ge=1, description="Province, city, zone, township, warehouse and unit names")
    free_text: int = Field(default=1000, ge=20, description="Descriptions and notes: longer ones are truncated")
    truncation_marker: str = Field(default=" …[truncated]", max_length=19,
                                   description="Ends a truncated text, inside the free_text limit")


class AlertsConfig(_Strict):
    """Who gets the alert e-mails, through which connection, and when beyond a failed task (``hamgam.alerts``,
    ``hamgam.alert_rules``); no ``email_to``, no e-mail."""

    email_to: list[str] = Field(default_factory=list)
    from_email: str | None = None
    smtp_conn_id: str = "smtp_default"
    base_url: str = Field(default="http://localhost:8080", min_length=1, description="The Airflow UI as the "
                          "team reaches it: the e-mails link to the run there and to the hamgam page (<base_url>/hamgam/)")
    needs_person: bool = Field(default=True, description="E-mail when new records are set aside (invalid or "
                               "rejected), once per change of that set")
    freshness_lag_minutes: int = Field(default=120, ge=0, description="E-mail when a company's entity is staler "
                                       "than this in the CRM (0: never); once until it is fresh again")
    recovery: bool = Field(default=True, description="E-mail when a company whose run failed finishes again")


class HamgamConfig(_Strict):
    """The settings file. Besides the fields below, one top-level section per entity, named after its spec
    (``identities``, ``sales_invoices`` ...) and validated by that spec's settings model when the file is read
    (``hamgam.config``): every entity has its settings whether the file names it or not."""

    model_config = ConfigDict(extra="allow", frozen=True)  # the entity sections
    # entities that rest on an assumption nobody has yet observed on a real CRM or Tadbir (EntitySpec.assumption):
    # off in a company unless its switch turns them on; set by hamgam.config from the specs
    _off_by_default: frozenset[str] = PrivateAttr(default_factory=frozenset)

    companies: list[CompanyConfig]
    fiscal_year_start_month: int = Field(default=1, ge=1, le=12, description="Jalali month a fiscal year starts")
    sync: SyncConfig = SyncConfig()
    alerts: AlertsConfig = AlertsConfig()
    limits: LimitsConfig = LimitsConfig()
    reverse: ReverseConfig = ReverseConfig()

    def entity_settings(self, name: str, kind: type[Settings]) -> Settings:
        """Entity ``name``'s settings, checked to be a ``kind`` (what its spec module reads them as)."""
        value = (self.model_extra or {}).get(name)
        if not isinstance(value, kind):
            raise ConfigError(f"entity {name!r} has no {kind.__name__} settings (known: {list(self.model_extra or {})})")
        return value

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

    def default_company(self) -> CompanyConfig:
        """The company a CRM number without a company code belongs to (the default, or the only one)."""
        marked = [c for c in self.companies if c.default]
        if marked:
            return marked[0]
        if len(self.companies) == 1:
            return self.companies[0]
        raise ConfigError("no company is marked default, and a CRM number names none")

    def change_capture_of(self, code: int) -> ChangeCapture:
        """The change capture of company ``code``: its own setting, else ``sync.change_capture``."""
        return self.company(code).change_capture or self.sync.change_capture

    def syncs(self, company: CompanyConfig, entity: str) -> bool:
        """``company`` syncs ``entity``: its switch, else on — but an entity resting on an assumption about the
        real CRM or Tadbir that nobody has yet observed (``EntitySpec.assumption``) is off until switched on."""
        return company.enabled and company.entities.get(entity, entity not in self._off_by_default)

    def companies_for(self, entity: str) -> list[int]:
        return [c.code for c in self.companies if self.syncs(c, entity)]
