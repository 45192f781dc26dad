"""Send marks: creates sent to the CRM without a look first, until their outcome is settled.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crm_send_mark",
        sa.Column("company", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("tadbir_key", sa.String(255), nullable=False),
        sa.Column("holder", sa.String(250), nullable=True),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("company", "entity", "tadbir_key", name="pk_crm_send_mark"),
    )


def downgrade() -> None:
    op.drop_table("crm_send_mark")
