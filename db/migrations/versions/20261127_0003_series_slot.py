"""series slot

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 06:44:24.954729
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meetups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("series_slot", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(batch_op.f("uq_meetups_series_id_starts_at"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_meetups_series_id_series_slot"), ["series_id", "series_slot"]
        )
    # Occurrences so far were never moved from their slot.
    op.execute("UPDATE meetups SET series_slot = starts_at WHERE series_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("meetups", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_meetups_series_id_series_slot"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_meetups_series_id_starts_at"), ["series_id", "starts_at"]
        )
        batch_op.drop_column("series_slot")
