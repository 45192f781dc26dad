"""Change capture: how detection finds what changed in a company's Tadbir, at a cost that follows the change.

Three sources, chosen per company (settings ``change_capture``, default ``sync.change_capture``):

``checksum`` (default; read-only, needs nothing of the Tadbir database)
    The database computes a checksum per key range (``sync.checksum_range_size`` Ids) of each fiscal period's
    headers and of their lines (a line belongs to its header's range). Only ranges whose checksum differs from
    the one the ledger keeps are read and hash-diffed (``hamgam.tadbir.checksums``).
``scan``
    Every row of the scope is read and hash-diffed: the ground truth, and what ``reconcile`` runs daily
    whatever the fast source is.
``change_tracking``
    SQL Server Change Tracking: ``CHANGETABLE(CHANGES …)`` since the version the ledger keeps per company
    and table names the changed rows; their ranges are read (``hamgam.tadbir.change_tracking``).

``probe_token`` is the cheap question the event-driven trigger asks: has anything of this entity changed?
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from hamgam.ledger.detect_state import AGAIN, DetectState, RangeState
from hamgam.tadbir import checksums, reader
from hamgam.tadbir.reader import FiscalPeriod

if TYPE_CHECKING:
    from hamgam.entities.base import EntitySpec, SyncContext
    from hamgam.ledger.store import Ledger
    from hamgam.tadbir.change_tracking import ChangeTrackingProvider

log = logging.getLogger(__name__)

CAPTURES = ("checksum", "scan", "change_tracking")


def scope_of(spec: EntitySpec) -> checksums.Scope:
    """The rows a checksum of ``spec`` covers: its header source and its lines."""
    if spec.lines is None:
        return checksums.Scope(spec.source)
    return checksums.Scope(spec.source, spec.lines.source, spec.lines.parent_column)


def capture_of(ctx: SyncContext) -> str:
    """The change capture of the context's company (its own setting, else the sync-wide default)."""
    return ctx.config.change_capture_of(ctx.company.code)


def _scope_period_ids(ctx: SyncContext, table: str = "__FiscalPeriod__") -> sa.Select | None:
    """The ids of the fiscal periods ≥ the company's ``sync_from_fiscal_year`` as a subquery (None: all).

    A period's year is the Jalali year of its first day, so "year ≥ Y" is "StartDate ≥ 1 Farvardin Y"."""
    start = ctx.company.sync_from_fiscal_year
    if start is None:
        return None
    import jdatetime

    first_day = jdatetime.date(start, 1, 1).togregorian()
    t = sa.table(table, sa.column("Id"), sa.column("StartDate"))
    return sa.select(t.c.Id).where(t.c.Id > 0, t.c.StartDate >= first_day)


_PROBE_STATEMENTS: dict[tuple[str, int, int | None], sa.Select] = {}


def probe_statement(spec: EntitySpec, ctx: SyncContext) -> sa.Select:
    """The one statement of the checksum/scan probe (see ``probe_token``), built once per entity and start
    year: building it took ~5 ms, most of a probe's CPU in the triggerer; the same object also keeps
    SQLAlchemy's compiled-statement cache key memoized."""
    memo = (spec.name, id(spec), ctx.company.sync_from_fiscal_year)
    statement = _PROBE_STATEMENTS.get(memo)
    if statement is None:
        statement = _PROBE_STATEMENTS[memo] = checksums.scope_statement(scope_of(spec), _scope_period_ids(ctx))
    return statement


def probe_token(engine: sa.Engine, spec: EntitySpec, ctx: SyncContext) -> str:
    """A short token that changes whenever any row of the entity's scope changes; cheap to ask often.

    One query, computed by the database (no row is read into Python):

    * ``change_tracking``: ``SELECT CHANGE_TRACKING_CURRENT_VERSION()`` — database-wide, so a change in any
      tracked table moves it (a spurious wake-up finds nothing and costs one detect);
    * ``checksum`` and ``scan``: over the headers and the lines of the company's fiscal periods
      (≥ ``sync_from_fiscal_year``): count, max Id and the checksum aggregate of every row of each. An insert,
      an edit of any column the entity reads (joined names included), a delete or a fiscal-period move
      changes it. A checksum collision (see ``hamgam.tadbir.checksums``) could hide one change from the
      probe; the cron safety net and the daily reconcile still find it.

    Equal tokens mean "nothing to do"; the value itself means nothing (a digest, stable across processes).
    Raises what the connection raises (the trigger logs it and keeps polling).
    """
    from hamgam.tadbir import sessions

    capture = capture_of(ctx)
    engine = sessions.read_engine(engine, sessions.settings_for(ctx))  # a probe never waits long for a lock
    memo = (str(engine.url), spec.name, ctx.company.code, ctx.company.sync_from_fiscal_year, capture)
    files = _sqlite_files_state(engine)  # before the query: a write during it makes the next probe ask again
    if files is not None and _PROBE_MEMO.get(memo, (None, None))[0] == files:
        return _PROBE_MEMO[memo][1]
    with engine.connect() as conn:
        if capture == "change_tracking":
            from hamgam.tadbir.change_tracking import MSSQL_CHANGE_TRACKING

            return f"ct:{MSSQL_CHANGE_TRACKING.current_version(conn)}"
        checksums.prepare_connection(conn)
        row = conn.execute(probe_statement(spec, ctx)).one()
    text = ":".join("" if v is None else str(v) for v in row)
    token = f"{capture}:" + hashlib.sha1(text.encode()).hexdigest()[:20]
    if files is not None:
        _PROBE_MEMO[memo] = (files, token)
    return token


_PROBE_MEMO: dict[tuple, tuple[tuple, str]] = {}  # SQLite only: the files' state a token was computed at


def _sqlite_files_state(engine: sa.Engine) -> tuple | None:
    """A SQLite database file's (and its WAL's) size and modification time: any committed write changes them,
    so a probe of an unchanged file (the demo) answers from memory instead of checksumming every row."""
    import os
    import time

    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        return None
    settled = time.time_ns() - 2_000_000_000  # file times tick coarsely: trust only those of a settled file
    state: list[tuple[int, int, int] | None] = []
    for path in (engine.url.database, engine.url.database + "-wal"):
        try:
            st = os.stat(path)
        except OSError:
            state.append(None)
            continue
        if st.st_mtime_ns > settled:
            return None  # written within the last two seconds: ask the database
        state.append((st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(state)


# -- detection by key range (checksum, change_tracking) ---------------------------------------------

Checksum = tuple[str | None, str | None]  # (headers, lines) of one range, as the database computed them


# settings that never change what a row hashes to: changing them does not read every range again
_OPERATIONAL = {"schedule", "chunk_size", "max_bad_share", "max_delete_share", "min_batch_for_bad_share",
                "crm_max_workers", "retries", "retry_delay_seconds", "lease_ttl_seconds", "reference_wait_seconds",
                "crm_conn_id", "state_conn_id", "change_capture", "read_lock_timeout_ms", "snapshot_reads",
                "tadbir_timezone"}


def basis_of(spec: EntitySpec, ctx: SyncContext, size: int, dialect: str) -> str:
    """What stored checksums were compared under: a new one reads every range again. It covers everything
    besides Tadbir's rows that can change a content hash: the mapping version and every setting (another
    entity's too — a return carries its invoice's CRM number), the company's, the range size and the
    checksum expressions; not the purely operational settings (schedule, chunk size, retries, ...)."""
    config = ctx.config.model_dump(mode="json", exclude={"alerts": True, "sync": _OPERATIONAL})
    company = ctx.company.model_dump(mode="json", exclude={"name", "change_capture", "snapshot_reads"})
    text = json.dumps([checksums.CHECKSUM_VERSION, dialect, size, spec.fingerprint(ctx), config, company],
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:32]


def _split(value: str) -> Checksum:
    head, _, lines = value.partition("|")
    return (head or None), (lines or None)


def period_checksums(engine: sa.Engine, spec: EntitySpec, period_id: int, size: int, *,
                     first: int | None = None, last: int | None = None) -> dict[int, Checksum]:
    """``{range: (headers, lines)}`` of one fiscal period (or of ranges ``first``…``last``)."""
    from hamgam.tadbir.reader import table_name
    from hamgam.tadbir.sessions import reading

    with reading(table_name(spec.source)), engine.connect() as conn:
        found = checksums.range_checksums(conn, scope_of(spec), period_id, size, first=first, last=last)
    return {r: _split(v) for r, v in found.items()}


@dataclass
class Plan:
    """Which ranges of which fiscal period a run reads, with their checksums when already computed."""

    work: dict[int, dict[int, Checksum | None]] = field(default_factory=dict)  # period -> range -> checksum
    current: dict[int, dict[int, Checksum]] = field(default_factory=dict)  # period -> every range's checksum
    sweep: bool = False  # also look for ledger records no read range holds (first run, new basis, full read)
    reasons: list[str] = field(default_factory=list)  # why more than the changes was read (the run log)
    cursors: dict[str, int] = field(default_factory=dict)  # Change Tracking versions to store at the end

    def add(self, period: int, range_no: int, checksum: Checksum | None = None) -> None:
        ranges = self.work.setdefault(period, {})
        if ranges.get(range_no) is None:
            ranges[range_no] = checksum

    @property
    def ranges(self) -> int:
        return sum(len(r) for r in self.work.values())


def plan_checksum(engine: sa.Engine, spec: EntitySpec, state: DetectState, company: int, periods: list,
                  size: int, basis: str, plan: Plan, *, force: bool = False) -> None:
    """Every range whose checksum differs from the stored one (or is new, or is gone); ``force``: all."""
    for period in periods:
        current = period_checksums(engine, spec, period.id, size)
        plan.current[period.id] = current
        stored = state.ranges(company, spec.name, period.id)
        if not stored:
            plan.sweep = True
        for range_no, checksum in current.items():
            old = stored.get(range_no)
            if force or old is None or old.basis != basis or (old.header_checksum, old.lines_checksum) != checksum:
                plan.add(period.id, range_no, checksum)
            if old is not None and old.basis not in (basis, AGAIN):
                plan.sweep = True
        for range_no in stored.keys() - current.keys():  # every row of the range is gone
            plan.add(period.id, range_no, (None, None))


def tracked_tables(spec: EntitySpec) -> list[tuple[str, str]]:
    """The Tadbir tables an entity reads, each with its role: ``header`` (its rows), ``lines`` (its
    documents' lines) or ``joined`` (names and codes it carries, e.g. a customer's code on an invoice)."""
    from sqlalchemy.sql.util import find_tables

    from hamgam.tadbir.reader import table_name

    out: dict[str, str] = {table_name(spec.source): "header"}
    if spec.lines is not None:
        out.setdefault(table_name(spec.lines.source), "lines")
    sources = [spec.source] + ([spec.lines.source] if spec.lines is not None else [])
    for source in sources:
        selectable = source.selectable()
        element = getattr(selectable, "element", selectable)
        for table in find_tables(element, include_joins=True, include_aliases=True):
            name = getattr(getattr(table, "original", table), "name", None)
            if isinstance(name, str) and name not in out:
                out[name] = "joined"
    return list(out.items())


def _key_columns(table: str) -> tuple[str, ...]:
    from hamgam.tadbir import schema

    known = schema.metadata.tables.get(table)
    if known is not None:
        return tuple(c.name for c in known.primary_key.columns)
    return ("Id", "FPId")


def cursor_name(table: str) -> str:
    return f"ct:{table}"


def plan_change_tracking(engine: sa.Engine, spec: EntitySpec, ctx: SyncContext, ledger: Ledger, state: DetectState,
                         periods: list, size: int, basis: str, plan: Plan,
                         provider: ChangeTrackingProvider | None = None) -> None:
    """The ranges Change Tracking names since the versions the ledger keeps; a full read (every range) when a
    version is missing or older than ``CHANGE_TRACKING_MIN_VALID_VERSION`` — the run log says why."""
    from hamgam.tadbir.change_tracking import MSSQL_CHANGE_TRACKING

    provider = provider or MSSQL_CHANGE_TRACKING
    company = ctx.company.code
    tables = tracked_tables(spec)
    scope = {p.id for p in periods}
    with engine.connect() as conn:
        current = provider.current_version(conn)
        if current is None:
            plan.reasons.append("Change Tracking is not enabled on the Tadbir database: every range is read "
                                "(see README, Change capture)")
        else:
            first = [t for t, _ in tables if ledger.get_cursor(company, spec.name, cursor_name(t)) is None]
            if first:
                plan.reasons.append(f"no Change Tracking version of {', '.join(first)} is stored yet (a first run): "
                                    "every range is read")
            for table, _role in tables:
                last = ledger.get_cursor(company, spec.name, cursor_name(table))
                valid = provider.min_valid_version(conn, table)
                if valid is None:
                    plan.reasons.append(f"Change Tracking is not enabled on {table} (or hamgam may not VIEW CHANGE "
                                        "TRACKING on it): every range is read")
                elif last is None:
                    continue
                elif int(last) < valid:
                    plan.reasons.append(f"the stored Change Tracking version of {table} ({last}) is older than "
                                        f"CHANGE_TRACKING_MIN_VALID_VERSION ({valid}): changes were cleaned up "
                                        "before this run, so every range is read")
        compare: set[int] = set()  # periods whose checksums decide (a line gone, a joined table changed)
        for table, role in tables if not plan.reasons else ():
            assert current is not None  # when it is None, plan.reasons says so and no table is asked
            since = int(ledger.get_cursor(company, spec.name, cursor_name(table)) or 0)
            keys = _key_columns(table)
            parent = spec.lines.parent_column if role == "lines" and spec.lines is not None else None
            for change in provider.changes(conn, table, keys, since, current, parent_column=parent):
                row = dict(zip(keys, change.key, strict=True))
                period = row.get("FPId")
                period = int(period) if period is not None else None
                if period is not None and period not in scope:
                    continue
                if role == "header" and period is not None and row.get("Id") is not None:
                    plan.add(period, int(row["Id"]) // size)
                elif role == "lines" and period is not None and change.parent is not None:
                    plan.add(period, change.parent // size)
                elif period is not None:  # a line gone (only its key is left), or a joined table's row
                    compare.add(period)
                else:
                    compare |= scope
        if current is not None:
            plan.cursors = {table: current for table, _ in tables}
    if plan.reasons:  # a full read: every range, and the records no range holds
        plan_checksum(engine, spec, state, company, periods, size, basis, plan, force=True)
        plan.sweep = True
        return
    for period, range_no in state.again(company, spec.name, sorted(scope)):
        plan.add(period, range_no)
    if compare:
        plan_checksum(engine, spec, state, company, [p for p in periods if p.id in compare], size, basis, plan)


def retry_keys(spec: EntitySpec, ctx: SyncContext, ledger: Ledger) -> set[str]:
    """Keys rejected for a reference that is synced now: read again though Tadbir did not change them."""
    from hamgam import pipeline

    if not spec.references:
        return set()
    company = ctx.company.code
    rejected = {p.tadbir_key: p for p in ledger.problems(company, spec.name, statuses=("rejected",))}
    if not rejected:
        return set()
    return pipeline.rejections_to_retry(spec, company, ledger, rejected)


def detect_changes(spec: EntitySpec, ctx: SyncContext, *, engine: sa.Engine, ledger: Ledger, run_id: str,
                   holder: str | None = None, allow_mass_delete: bool = False, capture: str = "checksum",
                   provider: ChangeTrackingProvider | None = None, force: bool = False) -> dict[str, int]:
    """Detection by key range: plan the ranges (``checksum`` or ``change_tracking``), then read and diff them
    one range at a time, queueing each range's changes before its state is stored. ``force``: every range."""
    from hamgam import pipeline

    company = ctx.company.code
    sync = ctx.config.sync
    size = sync.checksum_range_size
    state = DetectState(ledger)
    started = ledger._now()
    periods = pipeline.scope_periods(engine, spec, ctx)
    basis = basis_of(spec, ctx, size, engine.dialect.name)
    plan = Plan()
    if capture == "change_tracking" and not force:
        plan_change_tracking(engine, spec, ctx, ledger, state, periods, size, basis, plan, provider)
    else:
        plan_checksum(engine, spec, state, company, periods, size, basis, plan, force=force)
        if force:
            plan.sweep = True
    if spec.scope == "current_period" and state.periods(company, spec.name) - {p.id for p in periods}:
        plan.sweep = True  # master data: the current period moved on (or none has rows): what it held is gone
    retry = retry_keys(spec, ctx, ledger)
    if retry:
        for places in state.where(company, spec.name, retry).values():
            for period_id, range_no in places:
                if any(p.id == period_id for p in periods):
                    plan.add(period_id, range_no)
    for reason in plan.reasons:
        log.warning("%s company %s: %s", spec.name, company, reason)
    run = _RangeRun(spec, ctx, engine, ledger, state, run_id, basis, size, retry)
    with ledger.lease(company, spec.name, holder=holder or run_id, ttl_seconds=sync.lease_ttl_seconds):
        for period in periods:
            if period.id in plan.work:
                run.period(period, plan.work[period.id], plan.current.get(period.id))
        if plan.sweep:
            run.sweep(periods, started)
        run.finish(periods, allow_mass_delete)
        if spec.scope == "current_period":
            state.drop_periods(company, spec.name, keep=[p.id for p in periods])
        for table, version in plan.cursors.items():
            ledger.set_cursor(company, spec.name, cursor_name(table), str(version))
    counts = run.counts(periods)
    log.info("%s company %s: %s capture of fiscal period(s) %s: %d of %d range(s) read (%d rows), %d queued "
             "(%d deletes), %d unchanged, %d skipped", spec.name, company, capture,
             ", ".join(str(p.year) for p in periods) or "-", counts["ranges_read"],
             sum(len(c) for c in plan.current.values()) or counts["ranges_read"], counts["rows_read"],
             counts["queued"], counts["to_delete"], counts["unchanged"], counts["skipped"])
    return counts


class _RangeRun:
    """One detection by key range: reads and diffs range by range, holding one range's keys at a time.

    Deletes (and the state of the ranges that found them) wait for the end of the run, where the mass-delete
    guard sees them all before any is queued; everything else of a range is queued as soon as it is diffed.
    """

    def __init__(self, spec: EntitySpec, ctx: SyncContext, engine: sa.Engine, ledger: Ledger,
                 state: DetectState, run_id: str, basis: str, size: int, retry: set[str]) -> None:
        self.spec, self.ctx, self.engine, self.ledger, self.state = spec, ctx, engine, ledger, state
        self.company = ctx.company.code
        self.run_id, self.basis, self.size, self.retry = run_id, basis, size, retry
        self.rows_read = self.ranges_read = self.queued = self.skipped = self.unchanged_read = 0
        self.seen_deletes = 0  # deletes of keys still in Tadbir (out of scope now)
        self.deletes: dict[str, tuple[Any, Any]] = {}  # key -> (delete, its ledger state)
        self.deferred: list[RangeState] = []  # ranges whose state waits for their deletes

    # -- one fiscal period --------------------------------------------------------------------------

    def period(self, period: FiscalPeriod, work: dict[int, Checksum | None],
               current: dict[int, Checksum] | None) -> None:
        from hamgam.entities.base import SyncContext as Ctx

        pctx = Ctx(self.ctx.config, self.ctx.company, period)
        todo = sorted(work)
        while todo:
            batch = {todo[0]}
            while True:  # a key's rows in several ranges are read together (duplicate codes or numbers)
                old = self.state.members(self.company, self.spec.name, period.id, batch)
                extra = self._elsewhere(old, period.id, batch)
                if extra:
                    batch |= extra
                    continue
                sums = self._checksums(period.id, batch, work, current)
                seen, rows = self._read(pctx, batch)
                extra = self._elsewhere({k: {} for k in seen if k not in old}, period.id, batch)
                if extra:
                    batch |= extra
                    continue
                break
            todo = [r for r in todo if r not in batch]
            self.rows_read += rows
            self.ranges_read += len(batch)
            self._diff(period.id, batch, sums, old, seen)

    def _elsewhere(self, keys: dict[str, Any], period: int, batch: set[int]) -> set[int]:
        if not keys:
            return set()
        places = self.state.where(self.company, self.spec.name, keys)
        return {r for where in places.values() for (p, r) in where if p == period and r not in batch}

    def _checksums(self, period: int, batch: set[int], work: dict[int, Checksum | None],
                   current: dict[int, Checksum] | None) -> dict[int, Checksum]:
        """The batch's checksums as the database has them before the read (a change after it is read again)."""
        sums: dict[int, Checksum] = {}
        missing = []
        for r in batch:
            if work.get(r) is not None:
                sums[r] = work[r]  # type: ignore[assignment]
            elif current is not None:  # the period's checksums were computed at the start: absent is empty
                sums[r] = current.get(r, (None, None))
            else:
                missing.append(r)
        if missing:
            found = period_checksums(self.engine, self.spec, period, self.size, first=min(missing), last=max(missing))
            for r in missing:
                sums[r] = found.get(r, (None, None))
        return sums

    def _read(self, pctx: SyncContext, batch: set[int]) -> tuple[dict[str, Any], int]:
        from hamgam import pipeline

        assert pctx.period is not None
        seen: dict[str, Any] = {}
        rows = 0
        for first, last in _spans(sorted(batch)):
            for chunk in reader.read_range(self.engine, self.spec.source, pctx.period.id, first * self.size,
                                           (last + 1) * self.size, self.ctx.config.sync.chunk_size):
                rows += len(chunk)
                pipeline.collect_seen(self.spec, pctx, self.engine, chunk, seen)
        return seen, rows

    def _diff(self, period: int, batch: set[int], sums: dict[int, Checksum], old: dict[str, Any],
              seen: dict[str, Any]) -> None:
        from hamgam import pipeline

        spec, company = self.spec, self.company
        records = self.state.records(company, spec.name, set(seen) | set(old))
        changes: list[Any] = []
        deletes: list[tuple[Any, Any]] = []
        skips: list[tuple[str, str, str]] = []
        for key, entry in seen.items():
            verdict = pipeline.judge(spec, self.ctx, key, entry, records.get(key), retry=self.retry)
            if verdict is None:
                self.unchanged_read += 1
            elif isinstance(verdict, pipeline.Change):
                if verdict.action == "delete":
                    self.seen_deletes += 1
                    deletes.append((verdict, records.get(key)))
                else:
                    changes.append(verdict)
            else:
                skips.append(verdict)
        for key in old:
            state = records.get(key)
            if key not in seen and state is not None and pipeline.gone_from_tadbir(state):
                deletes.append((pipeline.Change(key, "delete", None, None), state))
        # a key still in Tadbir that leaves the CRM (out of scope now) is recorded as skipped once it has left:
        # its range is read again next run, as a scan would judge it again (no checksum is stored for it)
        again = {r for c, _ in deletes if c.key in seen for r in (i // self.size for i in seen[c.key].ids)}
        states = [RangeState(period, r, *sums.get(r, (None, None)),
                             {k: ids for k, e in seen.items() if (ids := [i for i in e.ids if i // self.size == r])},
                             again=r in again)
                  for r in sorted(batch)]
        deleted = {c.key for c, _ in deletes}
        # the fresh diff of these keys replaces whatever an older run queued for them
        self.ledger.dequeue(company, spec.name, [k for k in set(seen) | set(old) if k not in deleted])
        self.ledger.queue_changes(company, spec.name,
                                  [(c.key, c.action, c.content_hash, c.locator) for c in changes], self.run_id)
        for key, digest, reason in skips:
            self.ledger.record_outcome(company, spec.name, key, status="skipped", content_hash=digest, error=reason)
        self.queued += len(changes)
        self.skipped += len(skips)
        if deletes:
            self.deletes.update({c.key: (c, s) for c, s in deletes})
            self.deferred.extend(states)
        else:
            self.state.save(company, spec.name, self.basis, states)

    # -- the end of the run -------------------------------------------------------------------------

    def sweep(self, periods: list[FiscalPeriod], started: Any) -> None:
        """Records no read range holds (the first run by ranges, new settings, a full read): gone from Tadbir."""
        from hamgam.pipeline import Change

        prefixes = [f"{p.year}/" for p in periods] if self.spec.scope == "fiscal_years" else None
        if prefixes == []:
            return  # documents: no fiscal year read, none judged
        waiting = {k for s in self.deferred for k in s.keys}
        for key, state in self.state.unplaced(self.company, self.spec.name, [p.id for p in periods], prefixes,
                                              before=started).items():
            if key not in waiting and key not in self.deletes:
                self.deletes[key] = (Change(key, "delete", None, None), state)

    def finish(self, periods: list[FiscalPeriod], allow_mass_delete: bool) -> None:
        from hamgam import pipeline

        spec, company = self.spec, self.company
        if self.deletes:
            prefixes = [f"{p.year}/" for p in periods] if spec.scope == "fiscal_years" else None
            live = self.state.count_synced(company, spec.name, prefixes)
            synced = sum(1 for _, s in self.deletes.values() if s is not None and s.status == "synced")
            pipeline.refuse_mass_delete(spec, company, synced, live, periods, allow=allow_mass_delete,
                                        max_share=self.ctx.config.sync.max_delete_share)
            self.ledger.dequeue(company, spec.name, list(self.deletes))
            self.ledger.queue_changes(company, spec.name, [(k, "delete", None, None) for k in self.deletes],
                                      self.run_id)
        self.state.save(company, spec.name, self.basis, self.deferred)
        self.deferred = []

    def counts(self, periods: list[FiscalPeriod]) -> dict[str, int]:
        """Counts as a scan reports them: ``queued`` and ``to_delete`` are what the queue holds now (a key
        still queued from an earlier run included), ``unchanged`` counts the keys of ranges not read too."""
        placed = self.state.count_keys(self.company, self.spec.name, [p.id for p in periods])
        queue = self.state.queue_counts(self.company, self.spec.name)
        upserts, deletes = queue.get("upsert", 0), queue.get("delete", 0)
        return {"rows_read": self.rows_read, "queued": upserts + deletes,
                "unchanged": max(placed - upserts - self.skipped - self.seen_deletes, 0),
                "skipped": self.skipped, "to_delete": deletes, "ranges_read": self.ranges_read}


def _spans(ranges: list[int]) -> list[tuple[int, int]]:
    """Consecutive range numbers as (first, last) spans: one read each."""
    spans: list[tuple[int, int]] = []
    for r in ranges:
        if spans and spans[-1][1] == r - 1:
            spans[-1] = (spans[-1][0], r)
        else:
            spans.append((r, r))
    return spans


# -- the daily reconcile --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Missed:
    """A difference the fast change source had not queued (or recorded) that the scan found."""

    key: str
    what: str  # "upsert", "delete" or "skip"


def reconcile(spec: EntitySpec, ctx: SyncContext, *, engine: sa.Engine, ledger: Ledger, run_id: str,
              holder: str | None = None, allow_mass_delete: bool = False,
              provider: ChangeTrackingProvider | None = None) -> dict[str, Any]:
    """The ground truth, whatever the company's fast change source is: run the fast source first (what it
    finds now is not "missed"), then a full ``scan``; every change or skip the scan finds that the fast source
    had not queued or recorded is a miss — logged by key, counted, and fixed: the scan's diff replaces the
    queue (as ``scan`` always does), and the key ranges that held a missed key are read again by the next
    fast run (their stored checksums are forgotten). Returns the scan's counts, the ``capture`` compared,
    ``missed`` and up to 50 ``missed_keys`` (with ``scan`` as the company's capture nothing can be missed).
    The ``hamgam_drift_report`` DAG calls it daily for every company and entity, then loads the queue."""
    from hamgam import pipeline
    from hamgam.tadbir import sessions

    company = ctx.company.code
    engine = sessions.read_engine(engine, sessions.settings_for(ctx))
    capture = capture_of(ctx)
    if capture != "scan":
        detect_changes(spec, ctx, engine=engine, ledger=ledger, run_id=run_id, holder=holder,
                       allow_mass_delete=allow_mass_delete, capture=capture, provider=provider)
    queued = {}
    after = None
    while batch := ledger.pending(company, spec.name, limit=5000, after_key=after):
        queued.update({p.tadbir_key: (p.action, p.content_hash) for p in batch})
        after = batch[-1].tadbir_key
    diff = pipeline.scan_diff(spec, ctx, engine=engine, ledger=ledger)
    missed: list[Missed] = []
    if capture != "scan":  # a scan has no fast source to miss anything: its diff is the queue
        missed = [Missed(c.key, c.action) for c in diff.changes if queued.get(c.key) != (c.action, c.content_hash)]
        missed += [Missed(key, "skip") for key, _, _ in diff.skips]
    counts: dict[str, Any] = pipeline.scan(spec, ctx, engine=engine, ledger=ledger, run_id=run_id, holder=holder,
                                           allow_mass_delete=allow_mass_delete, diff=diff)
    if missed:
        state = DetectState(ledger)
        size = ctx.config.sync.checksum_range_size
        stale: dict[int, set[int]] = {}
        for places in state.where(company, spec.name, [m.key for m in missed]).values():
            for period, range_no in places:
                stale.setdefault(period, set()).add(range_no)
        for change in diff.changes:
            if change.locator is not None and any(m.key == change.key for m in missed):
                for row_id in change.locator["ids"]:
                    stale.setdefault(int(change.locator["period"]), set()).add(int(row_id) // size)
        for period, ranges in stale.items():
            state.forget(company, spec.name, period, ranges)
        log.warning("%s company %s: the daily reconcile found %d difference(s) the %s change capture had not "
                    "queued; queued now: %s", spec.name, company, len(missed), capture,
                    ", ".join(f"{m.key} ({m.what})" for m in missed[:50]) + (" …" if len(missed) > 50 else ""))
    else:
        log.info("%s company %s: the daily reconcile found nothing the %s change capture missed", spec.name,
                 company, capture)
    return {**counts, "capture": capture, "missed": len(missed),
            "missed_keys": [f"{m.key} ({m.what})" for m in missed[:50]]}
