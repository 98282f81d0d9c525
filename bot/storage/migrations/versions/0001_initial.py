"""initial schema: conversations, messages, feedback, refresh runs

Revision ID: 0001_initial
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("thread", sa.String(128), nullable=False),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("platform", "channel", "thread", name="uq_conversation"),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "conversation_id",
            sa.Integer,
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("event_id", sa.String(128), unique=True, nullable=True),
        sa.Column("platform_ref", sa.String(128), nullable=True, index=True),
        sa.Column("reply_to_id", sa.Integer, sa.ForeignKey("messages.id"), nullable=True),
        sa.Column("query", sa.Text, nullable=True),
        sa.Column("sources", sa.JSON, nullable=True),
        sa.Column("context", sa.Text, nullable=True),
        sa.Column("model", sa.String(256), nullable=True),
        sa.Column("adapter", sa.String(256), nullable=True),
        sa.Column("latency_ms", sa.Float, nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "message_id",
            sa.Integer,
            sa.ForeignKey("messages.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("reaction", sa.String(64), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("message_id", "user", name="uq_feedback_vote"),
    )
    op.create_table(
        "refresh_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("stats", sa.JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )


def downgrade() -> None:
    for table in ("refresh_runs", "feedback", "messages", "conversations"):
        op.drop_table(table)
