"""The declarative shape every document type fills in; the pipeline runs any of them unchanged."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeGuard

from hamgam.settings import CompanyConfig, EntitySettings, HamgamConfig
from hamgam.tadbir.reader import FiscalPeriod, Source
from hamgam.validate import Check

if TYPE_CHECKING:
    import pandas as pd

    from hamgam.ledger.store import RecordState
    from hamgam.payamgostar.client import PayamgostarClient

KEY = "_key"  # the prepared frame's column holding each row's normalised business key
ROW_ID = "_row_id"  # and the Tadbir row id it came from
SKIP = "_skip"  # optional: why a row is out of scope (no lines, cancelled, no customer); None when in scope
DISPLAY = "_display"  # optional: how messages name the record (its CRM number), else the key
CONTENT_HASH = "_content_hash"  # each row's content hash, added by the pipeline (``pipeline.prepare_rows``)


@dataclass(frozen=True)
class SyncContext:
    config: HamgamConfig
    company: CompanyConfig
    period: FiscalPeriod | None = None


@dataclass(frozen=True)
class LoadItem:
    """One record ready for the CRM: its key, a label for messages, and its payload per CRM kind."""

    key: str
    label: str
    kind: str
    number: str
    payloads: dict[str, dict[str, Any]]
    content_hash: str


@dataclass(frozen=True)
class Payload:
    """What an entity makes of one valid row (``EntitySpec.payload``): how messages name the record, its CRM
    kind and number, and its payload per CRM kind. The pipeline adds the key and the content hash."""

    label: str
    kind: str
    number: str
    payloads: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Outcome:
    action: Literal["created", "updated", "adopted", "deleted", "gone"]
    crm_id: str | None
    crm_kind: str | None


class CrmTarget(Protocol):
    """How one entity is written to the CRM: upsert (update, adopt or create) and delete.

    ``upsert``: a record the ledger knows in the CRM (``known.crm_id``) is updated by that id — one call; a new
    one is created — one call — unless ``look_first`` (the CRM may already hold it: adoption, or a create that
    may have landed unanswered), when the record holding its number is looked for and adopted first."""

    def upsert(self, client: PayamgostarClient, item: LoadItem, known: RecordState | None, *,
               look_first: bool = True) -> Outcome: ...

    def delete(self, client: PayamgostarClient, known: RecordState) -> Outcome: ...


class InCrm(Protocol):
    """A record state the ledger knows the CRM to hold: its id is set (what ``in_crm`` narrows to)."""

    @property
    def crm_id(self) -> str: ...
    @property
    def crm_number(self) -> str | None: ...
    @property
    def crm_kind(self) -> str | None: ...
    @property
    def status(self) -> str: ...


def in_crm(known: RecordState | None) -> TypeGuard[InCrm]:
    """The ledger knows the CRM to hold this record (its id, and not deleted since)."""
    return known is not None and bool(known.crm_id) and known.status != "deleted"


def stored_in_crm(known: RecordState | None, item: LoadItem) -> TypeGuard[InCrm]:
    """The CRM holds this record under the id the ledger stored, with the number (or code) it has now."""
    return known is not None and in_crm(known) and known.crm_number == item.number


@dataclass(frozen=True)
class Lines:
    """A document's line table and the column that points at the header's Id (same fiscal period)."""

    source: Source
    parent_column: str = "SPId"


@dataclass(frozen=True)
class Reference:
    """Records of another entity that must be in the CRM before this one: the prepared ``column``
    holds, per row, the list of that entity's keys (a customer code, product codes)."""

    entity: str
    column: str
    label: str  # "customer", "product" in messages


Refs = dict[str, dict[str, "RecordState"]]  # entity -> key -> what the ledger knows (crm_id)

NO_CODE = "~id:"  # the key of a record without a usable code or number: ``~id:<Tadbir row Id>``
UNREADABLE = "unreadable"  # prepared column: what of the row cannot be read (``FactorNo '12A' is not ...``)
TOO_LONG = "too_long"  # prepared column: the fields longer than the CRM takes (settings ``limits``)
# a row carries such problems into validation instead of raising: the record is invalid, the rest goes on
UNREADABLE_CHECK = Check("ExpectColumnValuesToBeNull", UNREADABLE, "a value in Tadbir cannot be read")
TOO_LONG_CHECK = Check("ExpectColumnValuesToBeNull", TOO_LONG, "a field is longer than the CRM takes")
ROW_CHECKS = (UNREADABLE_CHECK, TOO_LONG_CHECK)


def reference_name(label: str, key: str) -> str:
    """How a message names a referenced record: ``customer 10255``, ``customer with no code (Id 17)``."""
    if NO_CODE in key:
        head, _, row_id = key.partition(NO_CODE)
        if head:  # a document key: "1404/~id:15"
            return f"{label} of {head.rstrip('/')} with an unreadable number (Id {row_id})"
        return f"{label} with no code (Id {row_id})"
    return f"{label} {key}"


class PayloadError(ValueError):
    """One record's CRM payload cannot be built: it names a record that is not in the CRM."""

    def __init__(self, label: str, entity: str, key: str | None) -> None:
        super().__init__(f"{reference_name(label, key) if key else label + ' (none)'} is not in the CRM")
        self.entity, self.key = entity, key


def crm_id_of(refs: Refs, entity: str, key: str | None, label: str) -> str:
    """The CRM id of ``key`` among the resolved references, or :class:`PayloadError` naming it."""
    state = refs.get(entity, {}).get(key) if key else None
    if state is None or not state.crm_id:
        raise PayloadError(label, entity, key)
    return state.crm_id


@dataclass(frozen=True)
class EntitySpec:
    name: str  # DAG ids and ledger rows use it: tadbir_to_payamgostar__<name>
    label: str  # what one record is called in messages ("customer")
    source: Source
    hash_columns: tuple[str, ...]  # prepared columns whose change means "changed in Tadbir"
    checks: tuple[Check, ...]
    # normalise; add KEY, ROW_ID, check columns (and SKIP, DISPLAY); lines is None without ``lines``
    prepare: Callable[[pd.DataFrame, SyncContext, pd.DataFrame | None], pd.DataFrame]
    # one valid row (a dict: NULLs as None) and the CRM ids of what it names -> its CRM payload; raises
    # PayloadError when a record it names is not in the CRM
    payload: Callable[[dict[str, Any], SyncContext, Refs], Payload]
    target: CrmTarget
    version: str = "1"  # bump when the mapping changes: every record is then sent again
    sensitive_columns: frozenset[str] = field(default_factory=frozenset)  # masked in logs and the ledger
    # master data lives in every fiscal period and the newest one says what exists ("current_period");
    # documents belong to one fiscal period each, and their keys start with its year ("fiscal_years")
    scope: Literal["current_period", "fiscal_years"] = "current_period"
    lines: Lines | None = None
    references: tuple[Reference, ...] = ()
    # who owns a record (system of record, "edits only from the side that created it"): a reason when a
    # Tadbir change must not reach the CRM (a new record is then recorded as skipped), else None
    admit: Callable[[SyncContext, RecordState | None], str | None] | None = None
    # the entity's own settings with their defaults: the settings file's section named after the spec
    # overrides them (``HamgamConfig.entity_settings``), validated when the file is read (DAG parse)
    settings: EntitySettings = field(default_factory=EntitySettings)
    # what the entity rests on that nobody has yet observed on a real CRM or Tadbir (a SOAP operation's
    # behaviour, an assumed table): such an entity is off in every company until its switch turns it on
    # (``companies[].entities``), and the README names the assumption
    assumption: str | None = None
    # where a company's Tadbir keeps the source, when a site may name it its own way (an assumed table:
    # ``CompanyConfig.assumed_tables``); None: ``source`` everywhere
    source_for: Callable[[CompanyConfig], Source] | None = None

    def for_company(self, company: CompanyConfig) -> EntitySpec:
        """This spec reading ``company``'s Tadbir: ``source`` as ``source_for`` names it there (the same spec
        object for the same source, so whatever is kept per spec is kept once)."""
        if self.source_for is None:
            return self
        source = self.source_for(company)
        if source == self.source:
            return self
        return _with_source(self, source)

    @property
    def dag_id(self) -> str:
        return f"tadbir_to_payamgostar__{self.name}"

    def item(self, row: dict[str, Any], ctx: SyncContext, refs: Refs) -> LoadItem:
        """One valid prepared row (with its ``CONTENT_HASH``) as a record ready for the CRM."""
        made = self.payload(row, ctx, refs)
        return LoadItem(key=row[KEY], label=made.label, kind=made.kind, number=made.number, payloads=made.payloads,
                        content_hash=row[CONTENT_HASH])

    def fingerprint(self, ctx: SyncContext) -> str:
        """Mapping settings that change payloads; part of every content hash. Field limits count only once
        they differ from the defaults, so records hashed before limits existed stay in step."""
        settings = ctx.config.entity_settings(self.name, EntitySettings).model_dump_json()
        limits = ctx.config.limits
        if limits != type(limits)():
            settings += f":limits:{limits.model_dump_json()}"
        return f"{self.name}:{self.version}:{ctx.company.code}:{settings}"


_SOURCED: dict[tuple[int, Source], EntitySpec] = {}  # (the spec's id: specs are module constants, source)


def _with_source(spec: EntitySpec, source: Source) -> EntitySpec:
    key = (id(spec), source)
    found = _SOURCED.get(key)
    return found if found is not None else _SOURCED.setdefault(key, dataclasses.replace(spec, source=source))


def records_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as dicts, with pandas' missing values (NaN, NA, NaT) as None; fast (no Series per row)."""
    import pandas as pd

    na, nat = pd.NA, pd.NaT
    columns = list(frame.columns)
    if not columns:
        return [{} for _ in range(len(frame))]
    # column by column (``tolist`` gives Python values), then zipped: a quarter of ``to_dict("records")``'s time
    return [{k: None if v is na or v is nat or (v.__class__ is float and v != v) else v
             for k, v in zip(columns, values, strict=True)}
            for values in zip(*(frame.iloc[:, i].tolist() for i in range(len(columns))), strict=True)]


def content_hashes(frame: pd.DataFrame, columns: tuple[str, ...], salt: str) -> pd.Series:
    """A stable SHA-1 per row over ``columns`` (as text) and ``salt``."""
    import pandas as pd

    if frame.empty:
        return pd.Series([], index=frame.index, dtype=object)
    text = frame[list(columns)].astype("string").fillna("\x00")
    head = salt + "\x1e"
    # column by column into tuples: the same text as a row-wise "\x1f".join, without a Series per row
    return pd.Series([hashlib.sha1((head + "\x1f".join(row)).encode("utf-8")).hexdigest()
                      for row in zip(*(text[c].tolist() for c in text.columns), strict=True)],
                     index=frame.index, dtype=object)
