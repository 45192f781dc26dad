"""Every statement hamgam's Tadbir readers run, as SQL Server 2012–2019 would receive it (issue 12, fix 11).

A run over the demo Tadbir (SQLite) records each statement the Tadbir engine executes (SQLAlchemy's
``before_execute``: the statement object itself): for every entity the readers of a scan, of a ``checksum``
detection and of the load's reads by id, the probe, the reverse flow's look-ups and the live stock read. Each is then compiled for
the mssql dialect as pymssql would send it and checked against the rules of ``mssql_rules.broken_rules``
(paging without ORDER BY, string literals without N, more than 2,100 parameters, boolean literals, LIMIT,
``||``, ambiguous dates, anything sqlglot's tsql cannot parse). Change Tracking's statements cannot run on
SQLite: they are built by the same functions its provider calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from mssql_rules import MAX_PARAMETERS, broken_rules, sent

from hamgam import pipeline
from hamgam.config import parse_config
from hamgam.entities import SPECS
from hamgam.entities.base import SyncContext
from hamgam.ledger import Ledger
from hamgam.reverse import common as reverse_common
from hamgam.reverse import identities as reverse_identities
from hamgam.reverse import quotes as reverse_quotes
from hamgam.tadbir import change_tracking, changes, reader
from tadbir_demo import build_demo

ROOT = Path(__file__).resolve().parents[2]
COMPANY = 100
MANY = MAX_PARAMETERS + 400  # more ids than SQL Server takes parameters in one statement


class Recorder:
    """The statements a Tadbir engine executes, as statement objects (recompiled for mssql later)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine, self.statements, self.driver_sql = engine, [], []
        sa.event.listen(engine, "before_execute", self._statement)
        sa.event.listen(engine, "before_cursor_execute", self._cursor)

    def _statement(self, conn, clauseelement, multiparams, params, execution_options) -> None:
        self.statements.append(clauseelement)

    def _cursor(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if context is None or context.compiled is None:
            self.driver_sql.append(statement)

    @contextmanager
    def recording(self) -> Iterator[list]:
        start = len(self.statements)
        found: list = []
        yield found
        found.extend(self.statements[start:])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("mssql")
    build_demo(out / "demo")
    config = parse_config((ROOT / "config" / "hamgam.yaml").read_text(encoding="utf-8"))
    engine = sa.create_engine(f"sqlite:///{out / 'demo' / f'tadbir_{COMPANY}.sqlite'}")
    recorder = Recorder(engine)
    with Ledger.connect(f"sqlite:///{out / 'ledger.sqlite'}") as ledger:
        yield config, engine, ledger, recorder
    engine.dispose()


def context(config) -> SyncContext:
    return SyncContext(config, config.company(COMPANY))


def assert_t_sql(statements: list, what: str) -> None:
    assert statements, f"{what}: no statement recorded"
    problems = {}
    for statement in statements:
        broken = broken_rules(statement)
        if broken:
            problems[sent(statement).sql[:300]] = broken
    assert not problems, f"{what}: " + yaml.safe_dump(problems, allow_unicode=True, width=200)


@pytest.mark.parametrize("entity", sorted(SPECS))
def test_a_scan_a_checksum_detection_the_probe_and_the_load_reads_are_t_sql(world, entity):
    config, engine, ledger, recorder = world
    spec, ctx = SPECS[entity], context(config)
    with recorder.recording() as scan:
        pipeline.detect(spec, ctx, engine=engine, ledger=ledger, run_id=f"scan-{entity}", capture="scan",
                        allow_mass_delete=True)
    assert_t_sql(scan, f"{entity}: scan")
    with recorder.recording() as detect:
        changes.detect_changes(spec, ctx, engine=engine, ledger=ledger, run_id=f"cs-{entity}", capture="checksum",
                               allow_mass_delete=True, force=True)
    assert_t_sql(detect, f"{entity}: checksum detection")
    with recorder.recording() as probe:
        changes.probe_token(engine, spec, ctx)
    assert_t_sql(probe, f"{entity}: probe")
    pending = ledger.pending(COMPANY, spec.name, limit=config.sync.chunk_size)
    assert pending, f"{entity}: the demo queued nothing to load"
    with recorder.recording() as load:
        pipeline.prepare_chunk(spec, ctx, engine, [p for p in pending if p.action == "upsert"])
    assert_t_sql(load, f"{entity}: the load's reads")
    assert not recorder.driver_sql, "SQL sent around SQLAlchemy's statements: " + "; ".join(recorder.driver_sql)


@pytest.mark.parametrize("entity", sorted(SPECS))
def test_change_tracking_statements_are_t_sql(entity):
    spec = SPECS[entity]
    statements = [change_tracking.current_version_statement()]
    for table, role in changes.tracked_tables(spec):
        parent = spec.lines.parent_column if role == "lines" and spec.lines is not None else None
        statements.append(change_tracking.min_valid_version_statement(table))
        statements.append(change_tracking.changes_statement(table, changes._key_columns(table), 41, 57,
                                                            parent_column=parent))
    assert_t_sql(statements, f"{entity}: change tracking")


@pytest.mark.parametrize("entity", sorted(SPECS))
def test_reads_by_many_ids_stay_under_sql_servers_parameter_limit(world, entity):
    config, engine, _, recorder = world
    spec = SPECS[entity]
    period = reader.fiscal_periods(engine)[-1]
    with recorder.recording() as by_id:
        reader.read_rows(engine, spec.source, period.id, list(range(1, MANY + 1)))
        if spec.lines is not None:
            reader.read_children(engine, spec.lines.source, spec.lines.parent_column, period.id,
                                 list(range(1, MANY + 1)))
    assert len(by_id) >= 2  # batched: one statement could not hold them all
    assert max(sent(s).parameters for s in by_id) <= MAX_PARAMETERS
    assert_t_sql(by_id, f"{entity}: reads by {MANY} ids")


def test_reverse_flow_look_ups_are_t_sql(world):
    config, engine, _, recorder = world
    company = config.company(COMPANY)
    with recorder.recording() as looked_up:
        period = reverse_common.current_period(engine, company)
        reverse_identities.find_customer(engine, period.id, "۱۰۰۱")
        reverse_identities.find_customer(engine, period.id, "no such code")
        reverse_identities._forward_scope(config, company, engine)
        reverse_quotes._merchandise(engine, period.id)
        with pytest.raises(reverse_common.Rejected):
            reverse_quotes._warehouse(engine, period.id, 987_654, "quote 1")
        reverse_quotes._in_tadbir(engine, f"{period.year}/1")
        reverse_common.forward_items("identities", SyncContext(config, company, period), engine, [1, 2, 3])
    assert_t_sql(looked_up, "the reverse flow's look-ups")


def test_the_live_stock_read_is_t_sql(world):
    from hamgam.webapp import inventory

    config, engine, _, recorder = world
    with recorder.recording() as stock:
        inventory.company_stock(config, config.company(COMPANY), engine, today=inventory.today_in_tehran())
    assert_t_sql(stock, "the live stock read")
