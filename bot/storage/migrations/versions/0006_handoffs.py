"""handoffs: a user asked for a person ("Talk to a human") about an answer

Revision ID: 0006_handoffs
Revises: 0005_deliveries
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_handoffs"
down_revision = "0005_deliveries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("message_id", sa.Integer,
                  sa.ForeignKey("messages.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("handoffs")
