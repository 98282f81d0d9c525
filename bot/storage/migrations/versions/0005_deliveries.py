"""deliveries: every platform event id the router has seen, claimed before any reply

Revision ID: 0005_deliveries
Revises: 0004_security_events
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_deliveries"
down_revision = "0004_security_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("deliveries")
