"""conversation browsing: conversations.updated_at, messages.declined, and the indexes the
console's Conversations page pages and filters by

Revision ID: 0008_conversation_browse
Revises: 0007_admin_accounts
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_conversation_browse"
down_revision = "0007_admin_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("declined", sa.Boolean, nullable=True))
    op.execute("UPDATE conversations SET updated_at = COALESCE((SELECT MAX(m.created_at) FROM "
               "messages m WHERE m.conversation_id = conversations.id), created_at)")
    op.create_index("ix_conversations_updated_at", "conversations", ["updated_at", "id"])
    op.create_index("ix_messages_conversation_id", "messages", ["conversation_id", "id"])
    op.create_index("ix_feedback_message_id", "feedback", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_feedback_message_id", "feedback")
    op.drop_index("ix_messages_conversation_id", "messages")
    op.drop_index("ix_conversations_updated_at", "conversations")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("declined")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("updated_at")
