"""The webhook queue: changes the CRM announced, one pending event per record.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PENDING_ONLY = sa.text("status = 'pending'")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "webhook_event",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("crm_id", sa.String(100), nullable=False),
        sa.Column("crm_type", sa.String(100), nullable=True),
        sa.Column("subtype", sa.String(250), nullable=True),
        _ts("received_at"),
        _ts("last_received_at"),
        sa.Column("deliveries", sa.Integer(), server_default="1", nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        _ts("processed_at", nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(250), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_event"),
    )
    # "a duplicate event is stored once": one pending event per record (partial index, both backends)
    op.create_index("uq_webhook_event_pending_source_crm_id", "webhook_event", ["source", "crm_id"], unique=True,
                    sqlite_where=PENDING_ONLY, postgresql_where=PENDING_ONLY)
    op.create_index("ix_webhook_event_source_status_id", "webhook_event", ["source", "status", "id"])
    op.create_index("ix_webhook_event_received_at", "webhook_event", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_event_received_at", table_name="webhook_event")
    op.drop_index("ix_webhook_event_source_status_id", table_name="webhook_event")
    op.drop_index("uq_webhook_event_pending_source_crm_id", table_name="webhook_event")
    op.drop_table("webhook_event")
