"""enquiry service: requester details, library teams, effort, impact and promises kept

Revision ID: e001
Revises: 0002
Create Date: 2026-11-27 12:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "e001"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_COLUMNS = (
    ("languages", 200),
    ("requester_role", 120),
    ("requester_team", 120),
    ("organisation", 120),
    ("team", 40),
)


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("enquiry") as batch:
        for name, length in TEXT_COLUMNS:
            batch.add_column(
                sa.Column(
                    name,
                    sqlmodel.sql.sqltypes.AutoString(length=length),
                    nullable=False,
                    server_default="",
                )
            )
        for name in ("minutes_spent", "read_level", "satisfaction"):
            batch.add_column(sa.Column(name, sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column(
                "impact", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""
            )
        )
        for name in ("nudged_at", "reminded_at", "overdue_at"):
            batch.add_column(sa.Column(name, sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.create_index(batch.f("ix_enquiry_team"), ["team"], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("enquiry") as batch:
        batch.drop_index(batch.f("ix_enquiry_team"))
        for name in ("nudged_at", "reminded_at", "overdue_at", "impact", "satisfaction"):
            batch.drop_column(name)
        for name in ("read_level", "minutes_spent"):
            batch.drop_column(name)
        for name, _ in TEXT_COLUMNS:
            batch.drop_column(name)
