"""scheduling: project plans, per-person prompt times, leases, campaigns, outbox claims

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 12:23:21.394490
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "lease",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("holder", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("renewed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "absence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("starts", sa.Date(), nullable=False),
        sa.Column("ends", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("absence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_absence_person_id"), ["person_id"], unique=False)

    op.create_table(
        "campaign_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("conversation", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("started_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["started_by"], ["person.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug", "platform", "channel_id"),
    )
    with op.batch_alter_table("campaign_run", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaign_run_started_by"), ["started_by"], unique=False
        )

    op.create_table(
        "campaign_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["run_id"], ["campaign_run.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("campaign_answer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaign_answer_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_campaign_answer_run_id"), ["run_id"], unique=False)

    with op.batch_alter_table("occasion", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "slot",
                sqlmodel.sql.sqltypes.AutoString(length=40),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(sa.Column("opens_on", sa.Date(), nullable=True))
    # Occasions started by hand before this migration each get a slot of their own.
    op.execute("UPDATE occasion SET slot = 'now:' || CAST(id AS VARCHAR(20)) WHERE slot = ''")
    with op.batch_alter_table("occasion", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_occasion_project_slot", ["project_id", "slot"])

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("parent_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        batch_op.add_column(
            sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True)
        )
        batch_op.add_column(
            sa.Column("claimed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )

    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "start_template",
                sqlmodel.sql.sqltypes.AutoString(length=40),
                nullable=False,
                server_default="bar",
            )
        )
        batch_op.add_column(
            sa.Column("checkin_weeks", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("window_days", sa.Integer(), nullable=False, server_default="5")
        )
        batch_op.add_column(sa.Column("channel", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "members_from_channel", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )

    with op.batch_alter_table("prompt", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("invite_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("invited_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("remind_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("reminded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_prompt_invite_at"), ["invite_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_prompt_remind_at"), ["remind_at"], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("prompt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prompt_remind_at"))
        batch_op.drop_index(batch_op.f("ix_prompt_invite_at"))
        batch_op.drop_column("reminded_at")
        batch_op.drop_column("remind_at")
        batch_op.drop_column("invited_at")
        batch_op.drop_column("invite_at")

    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("members_from_channel")
        batch_op.drop_column("channel")
        batch_op.drop_column("window_days")
        batch_op.drop_column("checkin_weeks")
        batch_op.drop_column("start_template")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("parent_key")

    with op.batch_alter_table("occasion", schema=None) as batch_op:
        batch_op.drop_constraint("uq_occasion_project_slot", type_="unique")
        batch_op.drop_column("opens_on")
        batch_op.drop_column("slot")

    with op.batch_alter_table("campaign_answer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_answer_run_id"))
        batch_op.drop_index(batch_op.f("ix_campaign_answer_person_id"))

    op.drop_table("campaign_answer")
    with op.batch_alter_table("campaign_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_run_started_by"))

    op.drop_table("campaign_run")
    with op.batch_alter_table("absence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_absence_person_id"))

    op.drop_table("absence")
    op.drop_table("lease")
