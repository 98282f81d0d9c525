"""the team's loop: hand-off routing (open → claimed → resolved), review marks, guard cuts

Revision ID: 0010_team_loop
Revises: 0009_verified_answers
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_team_loop"
down_revision = "0009_verified_answers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False,
                                   server_default="open"))
        batch.add_column(sa.Column("channel", sa.String(128), nullable=True))
        batch.add_column(sa.Column("thread", sa.String(128), nullable=True))
        batch.add_column(sa.Column("support_ref", sa.String(128), nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("resolved_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("verified_id", sa.Integer, nullable=True))
        batch.create_index("ix_handoffs_status", ["status"])
    op.create_table(
        "review_marks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("message_id", sa.Integer,
                  sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False,
                  unique=True),
        sa.Column("status", sa.String(16), nullable=False),  # dismissed | missing
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("guard_cut", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("guard_cut")
    op.drop_table("review_marks")
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_index("ix_handoffs_status")
        for name in ("verified_id", "resolved_at", "resolved_by", "claimed_at", "claimed_by",
                     "support_ref", "thread", "channel", "status"):
            batch.drop_column(name)
