"""outbox: updates of posted messages, subjects and platform message ids

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column(
                "kind",
                sqlmodel.sql.sqltypes.AutoString(length=10),
                nullable=False,
                server_default="post",
            )
        )
        batch.add_column(
            sa.Column(
                "subject",
                sqlmodel.sql.sqltypes.AutoString(length=80),
                nullable=False,
                server_default="",
            )
        )
        batch.add_column(
            sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        batch.add_column(
            sa.Column("target_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        batch.create_index(batch.f("ix_outbox_subject"), ["subject"], unique=False)
        batch.create_index(batch.f("ix_outbox_message_id"), ["message_id"], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index(batch.f("ix_outbox_message_id"))
        batch.drop_index(batch.f("ix_outbox_subject"))
        batch.drop_column("target_id")
        batch.drop_column("message_id")
        batch.drop_column("subject")
        batch.drop_column("kind")
