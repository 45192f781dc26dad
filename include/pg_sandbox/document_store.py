"""SQLite table of the non-identity records: products, quotes, sales and purchase invoices,
sales and purchase returns, receipts and payments. Same connection and lock as the identity store.

The CRM keeps a number unique among the live records of one kind and subtype code (a
product's Code among live products), ignoring case; the partial unique index enforces that
even for concurrent saves, and look-ups by number ignore case too.

A database made before a kind was added (its CHECK names fewer kinds) is rebuilt on open,
rows, ids and order kept (`_migrate`).
"""

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pg_sandbox.store import Store

KINDS = ("product", "quote", "sales_invoice", "sales_return", "purchase_invoice", "purchase_return", "receipt",
         "payment")

_KIND_NAMES = tuple(f"'{kind}'" for kind in KINDS)
TABLE = f"""
CREATE TABLE IF NOT EXISTS documents (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,  -- stable order
    crm_id      TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ({', '.join(_KIND_NAMES)})),
    type_code   TEXT NOT NULL DEFAULT '',  -- CrmObjectTypeCode, case-folded; '' for products
    number      TEXT,                      -- Number of a billable record, Code of a product
    identity_id TEXT,
    created_at  TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    deleted     INTEGER NOT NULL DEFAULT 0,
    doc         TEXT NOT NULL
);
"""
INDEXES = """
CREATE INDEX IF NOT EXISTS documents_kind ON documents (kind, deleted);
CREATE INDEX IF NOT EXISTS documents_number ON documents (number COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS documents_identity ON documents (identity_id);
-- numbers compare ignoring (ASCII) case, as under SQL Server's usual collation
CREATE UNIQUE INDEX IF NOT EXISTS documents_live_number ON documents (kind, type_code, number COLLATE NOCASE)
    WHERE deleted = 0 AND number IS NOT NULL AND number <> '';
"""


# set on a record whose number the CRM gave (`renumber`): later saves by id keep that number (documents.save)
CRM_NUMBERED = "_sandboxCrmNumbered"


@dataclass(frozen=True)
class Keys:
    """The indexed columns of a document."""

    number: str | None
    type_code: str = ""
    identity_id: str | None = None


class DuplicateNumber(Exception):
    pass


class DocumentStore:
    def __init__(self, store: Store) -> None:
        self._store = store
        store.apply_schema(TABLE)
        self._migrate()
        store.apply_schema(INDEXES)

    def _migrate(self) -> None:
        """Rebuild a table whose kind CHECK is older than KINDS (SQLite cannot alter a CHECK in place)."""
        [(sql,)] = self._store.query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'documents'")
        if all(name in sql for name in _KIND_NAMES):
            return
        with self._store.atomic():
            self._store.run("ALTER TABLE documents RENAME TO documents_before_migration")
            self._store.run(TABLE)  # one statement: executescript would commit the transaction
            self._store.run("INSERT INTO documents SELECT * FROM documents_before_migration")
            self._store.run("DROP TABLE documents_before_migration")  # its indexes go with it

    def atomic(self):
        return self._store.atomic()

    def insert(self, crm_id: str, kind: str, keys: Keys, doc: dict[str, Any], at: str) -> None:
        self._write(
            "INSERT INTO documents (crm_id, kind, type_code, number, identity_id, created_at, modified_at, doc)"
            " VALUES (:crm_id, :kind, :type_code, :number, :identity_id, :at, :at, :doc)",
            {"crm_id": crm_id, "kind": kind, "at": at, **self._columns(keys, doc)},
        )

    def replace(self, crm_id: str, keys: Keys, doc: dict[str, Any], at: str) -> None:
        self._write(
            "UPDATE documents SET type_code = :type_code, number = :number, identity_id = :identity_id,"
            " modified_at = :at, doc = :doc WHERE crm_id = :crm_id",
            {"crm_id": crm_id, "at": at, **self._columns(keys, doc)},
        )

    def renumber(self, crm_id: str, number: str, at: str) -> bool:
        """Give a live billable record the number the CRM's numbering template would (False: no such record).
        The record keeps it: a later save by id does not change it (documents.save, CRM_NUMBERED)."""
        with self.atomic():
            rows = self._store.query("SELECT doc, type_code, identity_id FROM documents WHERE crm_id = ? AND deleted = 0"
                                     " AND kind <> 'product'", (crm_id,))
            if not rows:
                return False
            doc, type_code, identity_id = json.loads(rows[0][0]), rows[0][1], rows[0][2]
            doc.update(number=number, **{CRM_NUMBERED: True})
            self.replace(crm_id, Keys(number, type_code, identity_id), doc, at)
        return True

    def mark_deleted(self, crm_id: str, at: str) -> bool:
        changed = self._store.run(
            "UPDATE documents SET deleted = 1, modified_at = ? WHERE crm_id = ? AND deleted = 0", (at, crm_id))
        return changed == 1

    def get(self, crm_id: str, kinds: Iterable[str]) -> dict[str, Any] | None:
        """The live document with this id if it is of one of `kinds`."""
        found = self.find(kinds, crm_id=crm_id)
        return found[0][1] if found else None

    def find(self, kinds: Iterable[str] | None = None, *, crm_id: str | None = None, number: str | None = None,
             type_code: str | None = None, identity_id: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        """Live documents as (kind, doc), oldest first; a None criterion matches anything."""
        sql = "SELECT kind, doc FROM documents WHERE deleted = 0"
        params: list[Any] = []
        if kinds is not None:
            kinds = list(kinds)
            sql += f" AND kind IN ({', '.join('?' for _ in kinds)})"
            params += kinds
        for column, value in (("crm_id", crm_id), ("number", number), ("identity_id", identity_id),
                              ("type_code", None if type_code is None else type_code.casefold())):
            if value is not None:
                sql += f" AND {column} = ?" + (" COLLATE NOCASE" if column == "number" else "")
                params.append(value)
        rows = self._store.query(sql + " ORDER BY seq", tuple(params))
        return [(row[0], json.loads(row[1])) for row in rows]

    def wipe(self) -> None:
        self._store.run("DELETE FROM documents")

    def _write(self, sql: str, params: dict[str, Any]) -> None:
        try:
            self._store.run(sql, params)
        except sqlite3.IntegrityError as exc:
            if "documents.number" in str(exc):
                raise DuplicateNumber(params.get("number")) from exc
            raise

    @staticmethod
    def _columns(keys: Keys, doc: dict[str, Any]) -> dict[str, Any]:
        return {"type_code": keys.type_code.casefold(), "number": keys.number, "identity_id": keys.identity_id,
                "doc": json.dumps(doc, ensure_ascii=False)}
