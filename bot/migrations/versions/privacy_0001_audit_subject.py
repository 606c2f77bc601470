"""audit_log: whom an action was about (subject_id), so erasure and export can find it

Role grants recorded before this revision kept the person's id inside `detail`; it moves to
`subject_id`, so an erasure unlinks those entries too.

Revision ID: privacy_0001
Revises: handoff_0001
Create Date: 2026-12-01 10:30:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "privacy_0001"
down_revision: str | Sequence[str] | None = "handoff_0001"
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
    conn = op.get_bind()
    # SQLite stores JSON as text; PostgreSQL wants it cast (CAST … AS JSON means a number there)
    as_json = "CAST(:d AS JSON)" if conn.dialect.name == "postgresql" else ":d"
    rows = conn.execute(
        sa.text("SELECT id, detail FROM audit_log WHERE action = 'role.grant'")
    ).all()
    for ident, raw in rows:
        detail = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
        person = detail.pop("person", None)
        exists = (
            person is not None
            and conn.execute(sa.text("SELECT 1 FROM person WHERE id = :p"), {"p": person}).first()
        )
        conn.execute(
            sa.text(f"UPDATE audit_log SET subject_id = :s, detail = {as_json} WHERE id = :i"),
            {"s": person if exists else None, "d": json.dumps(detail), "i": ident},
        )


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint("fk_audit_log_subject_id_person", type_="foreignkey")
        batch.drop_index(batch.f("ix_audit_log_subject_id"))
        batch.drop_column("subject_id")
