"""verified_answers: corrections and approved answers, served before the model

Revision ID: 0009_verified_answers
Revises: 0008_conversation_browse
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_verified_answers"
down_revision = "0008_conversation_browse"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verified_answers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("sources", sa.JSON, nullable=True),
        sa.Column("message_id", sa.Integer,
                  sa.ForeignKey("messages.id", ondelete="SET NULL"), nullable=True),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retracted_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("verified_answers")
