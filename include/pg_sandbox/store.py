"""SQLite persistence of the sandbox: identity records, login tokens, call counters.

Products, invoices and payments live in their own table (document_store.py) on the same
connection.

One connection shared by all threads behind a re-entrant lock; `atomic()` groups a
read-modify-write into one transaction. WAL mode, so committed writes survive a crash
or restart of the server process.
"""

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- stable order for paging
    crm_id          TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('person', 'organization')),
    customer_number TEXT,
    ref_id          TEXT,
    national_code   TEXT,
    created_at      TEXT NOT NULL,
    modified_at     TEXT NOT NULL,
    deleted         INTEGER NOT NULL DEFAULT 0,
    doc             TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_kind ON records (kind, deleted);
CREATE INDEX IF NOT EXISTS records_ref_id ON records (ref_id COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS records_national_code ON records (national_code COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS records_customer_number ON records (customer_number COLLATE NOCASE);
-- the CRM keeps customer numbers unique among live identities
CREATE UNIQUE INDEX IF NOT EXISTS records_live_customer_number ON records (customer_number)
    WHERE deleted = 0 AND customer_number IS NOT NULL AND customer_number <> '';

CREATE TABLE IF NOT EXISTS tokens (
    access_token  TEXT PRIMARY KEY,
    refresh_token TEXT NOT NULL,
    username      TEXT NOT NULL,
    expires_at    REAL NOT NULL  -- unix time
);

CREATE TABLE IF NOT EXISTS counters (
    scope TEXT NOT NULL,  -- 'calls', 'faults', 'status' or 'writes'
    name  TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (scope, name)
);
"""

# Columns that mirror a document key, for indexed look-ups.
INDEXED = {"customerNumber": "customer_number", "refId": "ref_id", "nationalCode": "national_code"}


class DuplicateCustomerNumber(Exception):
    pass


class Store:
    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit, transactions only where atomic() opens one
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._depth = 0
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction; nested calls join the outer one."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def apply_schema(self, script: str) -> None:
        """Create another module's tables (idempotent `CREATE ... IF NOT EXISTS` statements)."""
        with self._lock:
            self._conn.executescript(script)

    def run(self, sql: str, params: tuple | dict = ()) -> int:
        """Execute one statement for another table's module; return the number of rows it changed."""
        return self._run(sql, params)

    def query(self, sql: str, params: tuple | dict = ()) -> list[tuple]:
        return self._query(sql, params)

    def _run(self, sql: str, params: tuple | dict = ()) -> int:
        """Execute a statement; return the number of rows it changed."""
        with self._lock:
            return self._conn.execute(sql, params).rowcount

    def _query(self, sql: str, params: tuple | dict = ()) -> list[tuple]:
        # fetch inside the lock: the connection is shared between threads
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # ---- records ---------------------------------------------------------------------

    def insert(self, crm_id: str, kind: str, doc: dict[str, Any], at: str) -> None:
        self._write(
            "INSERT INTO records (crm_id, kind, customer_number, ref_id, national_code, created_at,"
            " modified_at, doc) VALUES (:crm_id, :kind, :customer_number, :ref_id, :national_code, :at, :at,"
            " :doc)",
            {"crm_id": crm_id, "kind": kind, "at": at, **self._columns(doc)},
        )

    def replace(self, crm_id: str, doc: dict[str, Any], at: str) -> None:
        self._write(
            "UPDATE records SET customer_number = :customer_number, ref_id = :ref_id,"
            " national_code = :national_code, modified_at = :at, doc = :doc WHERE crm_id = :crm_id",
            {"crm_id": crm_id, "at": at, **self._columns(doc)},
        )

    def mark_deleted(self, crm_id: str, kind: str, at: str) -> bool:
        changed = self._run(
            "UPDATE records SET deleted = 1, modified_at = ? WHERE crm_id = ? AND kind = ? AND deleted = 0",
            (at, crm_id, kind),
        )
        return changed == 1

    def get(self, crm_id: str, kind: str | None = None) -> dict[str, Any] | None:
        rows = self._query(
            "SELECT doc FROM records WHERE crm_id = ? AND deleted = 0 AND (? IS NULL OR kind = ?)",
            (crm_id, kind, kind),
        )
        return json.loads(rows[0][0]) if rows else None

    def live(self, kind: str | None = None, equals: dict[str, str] | None = None) -> list[tuple[str, dict]]:
        """Live records as (kind, doc), oldest first; `equals` narrows by indexed document keys."""
        sql = "SELECT kind, doc FROM records WHERE deleted = 0"
        params: list[Any] = []
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        for key, value in (equals or {}).items():
            sql += f" AND {INDEXED[key]} = ? COLLATE NOCASE"
            params.append(value)
        rows = self._query(sql + " ORDER BY seq", tuple(params))
        return [(row[0], json.loads(row[1])) for row in rows]

    def wipe_records(self) -> None:
        self._run("DELETE FROM records")

    def _write(self, sql: str, params: dict[str, Any]) -> None:
        try:
            self._run(sql, params)
        except sqlite3.IntegrityError as exc:
            if "customer_number" in str(exc):
                raise DuplicateCustomerNumber(params.get("customer_number")) from exc
            raise

    @staticmethod
    def _columns(doc: dict[str, Any]) -> dict[str, Any]:
        columns = {column: doc.get(key) for key, column in INDEXED.items()}
        columns["doc"] = json.dumps(doc, ensure_ascii=False)
        return columns

    # ---- tokens ----------------------------------------------------------------------

    def save_token(self, access: str, refresh: str, username: str, expires_at: float, now: float) -> None:
        with self.atomic():
            self._run("DELETE FROM tokens WHERE expires_at < ?", (now - 86400,))  # keep the table small
            self._run(
                "INSERT INTO tokens (access_token, refresh_token, username, expires_at) VALUES (?, ?, ?, ?)",
                (access, refresh, username, expires_at),
            )

    def token_expiry(self, access: str) -> float | None:
        rows = self._query("SELECT expires_at FROM tokens WHERE access_token = ?", (access,))
        return rows[0][0] if rows else None

    def revoke_tokens(self) -> None:
        self._run("DELETE FROM tokens")

    # ---- counters --------------------------------------------------------------------

    def bump(self, scope: str, name: str, by: int = 1) -> None:
        self._run(
            "INSERT INTO counters (scope, name, count) VALUES (?, ?, ?)"
            " ON CONFLICT (scope, name) DO UPDATE SET count = count + excluded.count",
            (scope, name, by),
        )

    def counters(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        for scope, name, count in self._query("SELECT scope, name, count FROM counters ORDER BY scope, name"):
            result.setdefault(scope, {})[name] = count
        return result

    def reset_counters(self) -> None:
        self._run("DELETE FROM counters")
