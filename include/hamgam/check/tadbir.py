"""The Tadbir side of ``hamgam check``, per company: connect, server version, fiscal periods, every table and
column hamgam reads or writes (``tables.tables_used``) with a compatible type, the text columns' type and
collation, Change Tracking where the settings use it, permissions and the session's date format.

The SQL-Server-only rows (collation, Change Tracking, permissions, date format) say "n/a (sqlite)" or
"n/a (postgresql)" elsewhere; their statements are in ``check.mssql``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql as mssql_dialect

from hamgam.check import mssql
from hamgam.check.report import Row, fail, ok, skip, warn
from hamgam.check.tables import TableUse, tables_used
from hamgam.settings import CompanyConfig, HamgamConfig

# the type families hamgam's reference schema uses, and what else each can be read from
TEXT, INTEGER, DECIMAL, DATETIME, OTHER = "text", "integer", "decimal", "datetime", "other"
NUMBERS = (INTEGER, DECIMAL)
MSSQL = mssql_dialect.dialect()


def family(kind: Any) -> str:
    if isinstance(kind, sa.Boolean | sa.Integer):
        return INTEGER
    if isinstance(kind, sa.Numeric):  # Float included
        return DECIMAL
    if isinstance(kind, sa.String):  # NVARCHAR, VARCHAR, CHAR, TEXT, Unicode
        return TEXT
    if isinstance(kind, sa.DateTime | sa.Date):
        return DATETIME
    return OTHER


def type_problem(expected: sa.Column, actual: Any, *, written: bool) -> tuple[str, str] | None:
    """None when a column of type ``actual`` serves where hamgam's schema has ``expected``; else ("fail" or
    "warn", why). Text holding numbers or dates is read (a value that does not parse makes its record invalid,
    named) but never written; anything else of another family fails."""
    want, got = family(expected.type), family(actual)
    if want == got or (want in NUMBERS and got in NUMBERS):
        return None
    if not written and got == TEXT and want in (*NUMBERS, DATETIME):
        return "warn", f"text where hamgam expects {want}: a value that is not one makes its record invalid"
    if not written and want == TEXT and got in NUMBERS:
        return "warn", "a number where hamgam expects text: read as its digits"
    return "fail", f"hamgam expects {want} ({_type_name(expected.type, MSSQL)})"


def _type_name(kind: Any, dialect: sa.Dialect | None = None) -> str:
    try:
        return str(kind.compile(dialect=dialect)) if dialect is not None else str(kind)
    except Exception:  # a reflected type some dialect cannot render
        return type(kind).__name__.upper()


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return (text.splitlines() or [type(error).__name__])[0][:300]


class TadbirChecks:
    """The Tadbir rows of one company. ``engine_for(conn_id)`` gives the engine the DAGs use."""

    def __init__(self, config: HamgamConfig, company: CompanyConfig,
                 engine_for: Callable[[str], sa.Engine]) -> None:
        self.config, self.company, self.engine_for = config, company, engine_for
        self.index = config.companies.index(company)
        self.conn_id = company.tadbir_conn_id

    def rows(self) -> list[Row]:
        rows: list[Row] = []
        engine = self._connect(rows)
        if engine is None:
            return rows
        dialect = engine.dialect.name
        uses = tables_used(self.config, self.company)
        sections: list[tuple[str, Callable[[], list[Row]]]] = [
            ("server version", lambda: [self._version(engine)]),
            ("fiscal periods", lambda: [self._fiscal_periods(engine)]),
            ("tables and columns", lambda: self._tables(engine, uses))]
        if any(use.write for use in uses):
            sections.append(("reverse writes", lambda: [self._reverse_writes(engine)]))
        if dialect == "mssql":
            sections.append(("SQL Server settings", lambda: self._mssql_rows(engine, uses)))
        for what, section in sections:
            rows += self._guarded(what, section)
        if dialect != "mssql":
            rows += [skip(f"tadbir: {what}", f"n/a ({dialect})") for what in
                     ("text columns and collation", "permissions", "session date format")]
            rows.append(self._change_tracking_elsewhere(dialect))
        return rows

    def _guarded(self, what: str, section: Callable[[], list[Row]]) -> list[Row]:
        """A section's rows; one that cannot be read at all (a refused catalog view) is one ✗ row, and the
        other sections go on."""
        try:
            return section()
        except Exception as exc:
            return [fail(f"tadbir: {what}", f"could not be checked: {_first_line(exc)}",
                         f"give the login of {self.conn_id!r} read access to the database's catalog "
                         "(VIEW DEFINITION) and to the tables hamgam reads")]

    # -- connection, version, periods --------------------------------------------------------------
    def _connect(self, rows: list[Row]) -> sa.Engine | None:
        check = f"tadbir: connect ({self.conn_id})"
        fix = (f"check host, port, database (schema), login and password of the Airflow connection {self.conn_id!r}, "
               "and that the server accepts connections from this machine")
        try:
            engine = self.engine_for(self.conn_id)
        except Exception as exc:  # the connection is not defined, or of an unusable type
            rows.append(fail(check, _first_line(exc), f"define the Airflow connection {self.conn_id!r} (README, "
                             "\"Pointing hamgam at a real Tadbir\"), or set companies[].tadbir_conn_id"))
            return None
        if engine.dialect.name == "sqlite":  # connecting would create an empty database file
            path = engine.url.database or ""
            if path not in ("", ":memory:") and not Path(path).is_file():
                rows.append(fail(check, f"no database file {path}", fix))
                return None
        try:
            with engine.connect() as conn:
                conn.execute(sa.select(sa.literal(1))).scalar()
        except Exception as exc:
            rows.append(fail(check, _first_line(exc), fix))
            return None
        rows.append(ok(check, f"{engine.dialect.name}, database {engine.url.database or '(default)'}"))
        return engine

    def _version(self, engine: sa.Engine) -> Row:
        check = "tadbir: server version"
        with engine.connect() as conn:
            if engine.dialect.name == "mssql":
                v = conn.execute(mssql.server_version()).one()
                return ok(check, f"SQL Server {v.version} {v.level}, {v.edition}")
            if engine.dialect.name == "sqlite":
                return ok(check, f"SQLite {conn.exec_driver_sql('select sqlite_version()').scalar()}")
            info = engine.dialect.server_version_info or ()
            return ok(check, f"{engine.dialect.name} {'.'.join(str(p) for p in info)}")

    def _fiscal_periods(self, engine: sa.Engine) -> Row:
        from hamgam.tadbir.reader import fiscal_periods

        check = "tadbir: fiscal periods"
        try:
            years = [p.year for p in fiscal_periods(engine)]
        except Exception as exc:
            return fail(check, f"cannot be read: {_first_line(exc)}",
                        "give the login SELECT on __FiscalPeriod__ (Id, Name, StartDate, EndDate)")
        start = self.company.sync_from_fiscal_year
        found = ", ".join(map(str, years)) or "none"
        if not years:
            return fail(check, "none", "this is not a Tadbir company database: check the connection's database")
        if start is not None and max(years) < start:
            return fail(check, f"{found}; none from sync_from_fiscal_year {start}",
                        f"set companies[{self.index}].sync_from_fiscal_year to a year Tadbir has")
        return ok(check, found + (f" (synced from {start})" if start else ""))

    # -- tables and columns ------------------------------------------------------------------------
    def _switch_fix(self, users: tuple[str, ...]) -> str:
        """How to stop needing a table or column: the switches of what uses it."""
        offs = []
        for user in users:
            if user.startswith("reverse "):
                offs.append(f"reverse.{user.split()[1]}.enabled: false")
            elif " " not in user:
                offs.append(f"companies[{self.index}].entities.{user}: false")
        return f" or set {', '.join(offs)} in the settings file" if offs else ""

    def _tables(self, engine: sa.Engine, uses: list[TableUse]) -> list[Row]:
        inspector = sa.inspect(engine)
        # a site may serve a table as a view: hamgam only reads through it (writes need the table)
        present = {name.casefold(): name for name in (*inspector.get_view_names(), *inspector.get_table_names())}
        rows = []
        for use in uses:
            check = f"tadbir: table {use.table}"
            users = ", ".join(use.used_by)
            real = present.get(use.table.casefold())
            if real is None:
                what = "hamgam's assumed table (reference section 7) " if use.assumed else ""
                where = (f", or point companies[{self.index}].assumed_tables.{use.assumed_as}.table (and its "
                         f"columns) at the site's own table" if use.assumed else "")
                if all(" " in u and not u.startswith("reverse ") for u in use.used_by):  # only the web app
                    rows.append(warn(check, f"missing ({users}): that endpoint answers 503",
                                     f"create {what}{use.table} if the CRM reads it from hamgam{where}"))
                else:
                    rows.append(fail(check, f"missing (used by {users})",
                                     f"create {what}{use.table} in the company's Tadbir database{where}"
                                     f"{self._switch_fix(use.used_by)}"))
                continue
            try:
                columns = {c["name"].casefold(): c for c in inspector.get_columns(real)}
            except Exception as exc:  # a view over a table that is gone, a refused catalog
                rows.append(fail(check, f"its columns cannot be read: {_first_line(exc)}",
                                 f"repair {use.table} (or the view of that name) in the company's Tadbir database"
                                 f"{self._switch_fix(use.used_by)}"))
                continue
            problems = self._column_rows(engine, use, columns)
            rows += problems
            if not any(p.status == "fail" for p in problems):
                verb = "read and written" if use.write else "read"
                rows.append(ok(check, f"{len(use.columns)} columns {verb}, types compatible (used by {users})"))
        return rows

    def _reverse_writes(self, engine: sa.Engine) -> Row:
        """What the writer itself checks before a reverse run writes anything (``write_tables.reflect``): every
        column it sets is there, and no NOT NULL column without a default is left for it to fill."""
        from hamgam.tadbir.write_errors import TadbirSchemaMismatch
        from hamgam.tadbir.write_tables import WRITTEN, reflect

        check = "tadbir: reverse flow can insert"
        try:
            reflect(engine, refresh=True)
        except TadbirSchemaMismatch as exc:
            return fail(check, str(exc)[:300], "add the columns named, or give the NOT NULL ones a default, "
                        "or set reverse.identities.enabled / reverse.quotes.enabled: false")
        count = sum(len(columns) for columns in WRITTEN.values())
        return ok(check, f"{len(WRITTEN)} tables take hamgam's INSERTs ({count} columns set, the rest left to "
                  "the tables' defaults)")

    def _column_rows(self, engine: sa.Engine, use: TableUse, columns: Mapping[str, Any]) -> list[Row]:
        rows = []
        for name in use.columns:
            expected = use.reference(name)
            check = f"tadbir: column {use.table}.{name}"
            actual = columns.get(name.casefold())
            # the reference schema's type as SQL Server spells it (the site's server)
            wanted = _type_name(expected.type, MSSQL) if expected is not None else "a column"
            users = use.users_of(name)
            if actual is None:
                rows.append(fail(check, f"missing (used by {', '.join(users)})",
                                 f"add column {name} ({wanted}) to {use.table}{self._switch_fix(users)}"))
                continue
            if expected is None:
                continue
            problem = type_problem(expected, actual["type"], written=use.write)
            if problem is None:
                continue
            status, why = problem
            found = f"{_type_name(actual['type'], engine.dialect)}: {why}"
            if status == "fail":
                rows.append(fail(check, found, f"make {use.table}.{name} a {wanted} column{self._switch_fix(users)}"))
            else:
                rows.append(warn(check, found))
        return rows

    # -- SQL Server only ---------------------------------------------------------------------------
    def _mssql_rows(self, engine: sa.Engine, uses: list[TableUse]) -> list[Row]:
        """Each statement of ``check.mssql`` and its judge over what SQL Server answers."""
        capture = self.config.change_capture_of(self.company.code)
        tracked = self._tracked_tables() if capture == "change_tracking" else []
        with engine.connect() as conn:
            default = conn.execute(mssql.database_collation()).scalar()
            found = list(conn.execute(mssql.text_columns([u.table for u in uses])))
            rows = [mssql.judge_text_columns(uses, found, default)]
            if capture != "change_tracking":
                rows.append(skip("tadbir: change tracking", f"not used (change capture: {capture})"))
            else:
                database = conn.execute(mssql.change_tracking_database()).first()
                on = [name for (name,) in conn.execute(mssql.change_tracking_tables())]
                rows.append(mssql.judge_change_tracking(database, on, tracked, self.index))
            wanted = mssql.wanted_permissions(uses, tracked)
            rows += mssql.judge_permissions(wanted, conn.execute(mssql.permissions(wanted)).one())
            rows.append(mssql.judge_date_format(conn.execute(mssql.session_date_format()).scalar()))
        return rows

    def _tracked_tables(self) -> list[str]:
        from hamgam.entities import SPECS
        from hamgam.tadbir.changes import tracked_tables

        names: dict[str, None] = {}
        for name, spec in SPECS.items():
            if self.config.syncs(self.company, name):
                names.update(dict.fromkeys(table for table, _ in tracked_tables(spec)))
        return list(names)

    def _uses_change_tracking(self) -> bool:
        return self.config.change_capture_of(self.company.code) == "change_tracking"

    def _change_tracking_elsewhere(self, dialect: str) -> Row:
        check = "tadbir: change tracking"
        if self._uses_change_tracking():
            return fail(check, f"change_capture is change_tracking, which needs SQL Server (this is {dialect})",
                        f"set companies[{self.index}].change_capture: checksum in the settings file")
        return skip(check, f"n/a ({dialect}); change capture: {self.config.change_capture_of(self.company.code)}")
