"""the web desk: one-time sign-in links, sessions, and the index its queue uses

Revision ID: desk001
Revises: inbox0001
Create Date: 2026-12-01 10:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "desk001"
down_revision: str | Sequence[str] | None = "inbox0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _person_fk() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "person_id",
        sa.Integer(),
        sa.ForeignKey("person.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "desk_link",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sqlmodel.AutoString(length=64), nullable=False),
        _person_fk(),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_desk_link_person_id", "desk_link", ["person_id"])
    op.create_table(
        "desk_session",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sqlmodel.AutoString(length=64), nullable=False),
        _person_fk(),
        sa.Column("csrf", sqlmodel.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("flash", sqlmodel.AutoString(length=2000), nullable=False, server_default=""),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_desk_session_person_id", "desk_session", ["person_id"])
    op.create_index("ix_enquiry_status_deadline", "enquiry", ["status", "deadline"])


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index("ix_enquiry_status_deadline", "enquiry")
    op.drop_table("desk_session")
    op.drop_table("desk_link")
