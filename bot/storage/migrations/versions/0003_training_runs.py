"""training runs: one row per adapter trained (data hash, metrics, gate report, status)

Revision ID: 0003_training_runs
Revises: 0002_admin_actions
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_training_runs"
down_revision = "0002_admin_actions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.String(64), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("data_hash", sa.String(64), nullable=True),
        sa.Column("examples", sa.Integer, nullable=True),
        sa.Column("config", sa.JSON, nullable=True),
        sa.Column("metrics", sa.JSON, nullable=True),
        sa.Column("gate", sa.JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("training_runs")
