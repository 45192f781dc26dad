"""The ledger: records, pending changes, cursors, runs, leases.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), server_default="0", nullable=False)


def upgrade() -> None:
    op.create_table(
        "sync_record",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("company", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("tadbir_key", sa.String(255), nullable=False),
        sa.Column("crm_id", sa.String(100), nullable=True),
        sa.Column("crm_number", sa.String(100), nullable=True),
        sa.Column("crm_kind", sa.String(32), nullable=True),
        sa.Column("content_hash", sa.String(128), nullable=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("error_details", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("synced_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sync_record"),
        sa.UniqueConstraint("company", "entity", "tadbir_key", name="uq_sync_record_company_entity_tadbir_key"),
    )
    op.create_index("ix_sync_record_company_entity_status", "sync_record", ["company", "entity", "status"])

    op.create_table(
        "pending_change",
        sa.Column("company", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("tadbir_key", sa.String(255), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("content_hash", sa.String(128), nullable=True),
        sa.Column("locator", sa.JSON(), nullable=True),
        _ts("detected_at"),
        sa.Column("run_id", sa.String(250), nullable=True),
        sa.PrimaryKeyConstraint("company", "entity", "tadbir_key", name="pk_pending_change"),
    )

    op.create_table(
        "sync_cursor",
        sa.Column("company", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("company", "entity", "name", name="pk_sync_cursor"),
    )

    op.create_table(
        "sync_run",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("company", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        _ts("started_at"),
        _ts("finished_at", nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        *(_count(name) for name in
          ("created", "updated", "deleted", "unchanged", "invalid", "rejected", "failed", "skipped")),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sync_run"),
    )
    op.create_index("ix_sync_run_company_entity_started_at", "sync_run", ["company", "entity", "started_at"])
    op.create_index("ix_sync_run_started_at", "sync_run", ["started_at"])

    op.create_table(
        "sync_lease",
        sa.Column("company", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(250), nullable=False),
        _ts("expires_at"),
        sa.PrimaryKeyConstraint("company", "entity", name="pk_sync_lease"),
    )


def downgrade() -> None:
    op.drop_table("sync_lease")
    op.drop_index("ix_sync_run_started_at", table_name="sync_run")
    op.drop_index("ix_sync_run_company_entity_started_at", table_name="sync_run")
    op.drop_table("sync_run")
    op.drop_table("sync_cursor")
    op.drop_table("pending_change")
    op.drop_index("ix_sync_record_company_entity_status", table_name="sync_record")
    op.drop_table("sync_record")
