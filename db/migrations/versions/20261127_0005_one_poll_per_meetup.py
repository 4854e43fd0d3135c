"""one poll per meetup and its results message

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 07:38:21.452203
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("polls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("results_message_id", sa.BigInteger(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_polls_meetup_id"), ["meetup_id"])


def downgrade() -> None:
    with op.batch_alter_table("polls", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_polls_meetup_id"), type_="unique")
        batch_op.drop_column("results_message_id")
