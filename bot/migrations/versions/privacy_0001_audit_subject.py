"""audit_log: whom an action was about (subject_id), so erasure and export can find it

Revision ID: privacy_0001
Revises: m0003e001
Create Date: 2026-12-01 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "privacy_0001"
down_revision: str | Sequence[str] | None = "m0003e001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("subject_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_audit_log_subject_id"), ["subject_id"], unique=False)
        batch.create_foreign_key(
            "fk_audit_log_subject_id_person", "person", ["subject_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint("fk_audit_log_subject_id_person", type_="foreignkey")
        batch.drop_index(batch.f("ix_audit_log_subject_id"))
        batch.drop_column("subject_id")
