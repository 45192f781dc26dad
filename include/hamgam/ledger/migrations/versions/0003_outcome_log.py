"""The outcome log (a run's counts over all its tries) and the stage and current try of each run.

Revision ID: 0003
Revises: 0002
Create Date: 2025-03-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sync_outcome",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("sync_run_id", BIG_ID, nullable=True),
        sa.Column("holder", sa.String(250), nullable=True),
        sa.Column("company", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("tadbir_key", sa.String(255), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sync_outcome"),
    )
    op.create_index("ix_sync_outcome_sync_run_id", "sync_outcome", ["sync_run_id"])
    op.create_index("ix_sync_outcome_company_entity_recorded_at", "sync_outcome",
                    ["company", "entity", "recorded_at"])
    with op.batch_alter_table("sync_run") as batch:  # runs recorded before were loads
        batch.add_column(sa.Column("stage", sa.String(16), server_default="load", nullable=False))
        batch.add_column(sa.Column("holder", sa.String(250), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_run") as batch:
        batch.drop_column("holder")
        batch.drop_column("stage")
    op.drop_index("ix_sync_outcome_company_entity_recorded_at", table_name="sync_outcome")
    op.drop_index("ix_sync_outcome_sync_run_id", table_name="sync_outcome")
    op.drop_table("sync_outcome")
