"""admin_accounts: web console logins (argon2 password hashes)

Revision ID: 0007_admin_accounts
Revises: 0006_handoffs
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_admin_accounts"
down_revision = "0006_handoffs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("admin_accounts")
