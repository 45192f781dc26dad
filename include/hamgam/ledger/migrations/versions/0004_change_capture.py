"""Change capture state: per key range the checksums detection last read, and the keys each range held.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "detect_range",
        sa.Column("company", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("range_no", sa.Integer(), nullable=False),
        sa.Column("header_checksum", sa.String(100), nullable=True),
        sa.Column("lines_checksum", sa.String(100), nullable=True),
        sa.Column("basis", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("company", "entity", "period", "range_no", name="pk_detect_range"),
    )
    op.create_table(
        "detect_key",
        sa.Column("company", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("tadbir_key", sa.String(255), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("range_no", sa.Integer(), nullable=False),
        sa.Column("row_ids", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("company", "entity", "tadbir_key", "period", "range_no", name="pk_detect_key"),
    )
    op.create_index("ix_detect_key_company_entity_period_range_no", "detect_key",
                    ["company", "entity", "period", "range_no"])


def downgrade() -> None:
    op.drop_index("ix_detect_key_company_entity_period_range_no", table_name="detect_key")
    op.drop_table("detect_key")
    op.drop_table("detect_range")
