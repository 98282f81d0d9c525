"""Conversation store: SQLAlchemy 2.0 models, Alembic migrations, and the Store facade."""

from bot.storage.store import Store

__all__ = ["Store"]
