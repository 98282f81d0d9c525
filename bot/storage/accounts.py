"""``Store``'s admin accounts for the web console: names and argon2 password hashes."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.storage.models import AdminAccount


class AdminAccounts:
    """Mixed into ``Store``; needs its ``session``."""

    session: Callable[[], AbstractContextManager[Session]]

    def set_admin(self, name: str, password_hash: str) -> bool:
        """Create the account, or replace its password; ``True`` when it is new."""
        with self.session() as s:
            account = s.scalar(select(AdminAccount).filter_by(name=name))
            if account is None:
                s.add(AdminAccount(name=name, password_hash=password_hash))
                return True
            account.password_hash = password_hash
            return False

    def add_admin(self, name: str, password_hash: str) -> bool:
        """Create the account unless it exists; ``False`` when it does (or another worker on
        the same database created it first: the UNIQUE name decides the race)."""
        try:
            with self.session() as s:
                if s.scalar(select(AdminAccount.id).filter_by(name=name)) is not None:
                    return False
                s.add(AdminAccount(name=name, password_hash=password_hash))
            return True
        except IntegrityError:
            return False

    def admin_hash(self, name: str) -> str | None:
        with self.session() as s:
            return s.scalar(select(AdminAccount.password_hash).filter_by(name=name))

    def admin_count(self) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(AdminAccount)) or 0)
