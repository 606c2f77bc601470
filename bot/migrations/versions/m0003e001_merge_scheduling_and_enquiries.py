"""merge the scheduling (0003) and enquiry service (e001) branches, both made on 0002

Revision ID: m0003e001
Revises: 0003, e001
Create Date: 2026-11-27 13:00:00
"""

from collections.abc import Sequence

revision: str = "m0003e001"
down_revision: str | Sequence[str] | None = ("0003", "e001")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the two branches touch different tables and columns."""


def downgrade() -> None:
    """Nothing to revert."""
