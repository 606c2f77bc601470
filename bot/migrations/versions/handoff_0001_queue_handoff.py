"""hand-off to a library's own queue: enquiry_handoff and handoff_mail

Revision ID: handoff_0001
Revises: desk001
Create Date: 2026-12-01 10:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "handoff_0001"
down_revision: str | None = "desk001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(length: int | None = None) -> sa.types.TypeEngine[str]:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "enquiry_handoff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "enquiry_id",
            sa.Integer(),
            sa.ForeignKey("enquiry.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", _s(20), nullable=False),
        sa.Column("target", _s(200), nullable=False),
        sa.Column("ticket_id", _s(40), nullable=False),
        sa.Column("ticket_url", _s(300), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_enquiry_handoff_enquiry_id"), "enquiry_handoff", ["enquiry_id"], unique=False
    )
    op.create_table(
        "handoff_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "enquiry_id",
            sa.Integer(),
            sa.ForeignKey("enquiry.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("direction", _s(3), nullable=False),
        sa.Column("message_id", _s(250), nullable=False),
        sa.Column("in_reply_to", _s(250), nullable=False),
        sa.Column("refs", _s(), nullable=False),
        sa.Column("outbox_key", _s(200), nullable=True),
        sa.Column("address", _s(250), nullable=False),
        sa.Column("subject", _s(250), nullable=False),
        sa.Column("text", _s(), nullable=False),
        sa.Column("priority", sa.Boolean(), nullable=False),
        sa.Column("status", _s(20), nullable=False),
        sa.Column("reason", _s(250), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("direction", "message_id"),
        sa.UniqueConstraint("outbox_key"),
    )
    op.create_index(
        op.f("ix_handoff_mail_enquiry_id"), "handoff_mail", ["enquiry_id"], unique=False
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index(op.f("ix_handoff_mail_enquiry_id"), table_name="handoff_mail")
    op.drop_table("handoff_mail")
    op.drop_index(op.f("ix_enquiry_handoff_enquiry_id"), table_name="enquiry_handoff")
    op.drop_table("enquiry_handoff")
