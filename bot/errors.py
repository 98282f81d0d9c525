"""The errors supportbot raises on purpose.

Every one of them carries a message meant for the person at the keyboard: it says what went
wrong and what to do about it. The command line prints it on one line and exits non-zero;
chat platforms show it as a reply. Anything else that escapes is a bug.

    SupportbotError
    ├── InputError             a command was given unusable input (an empty question)
    ├── ConfigError            a setting is wrong or a model file is missing
    ├── SourceError            a knowledge source path is missing, empty or unreadable
    ├── IndexMissingError      no knowledge index has been built yet
    ├── RefreshInProgressError another refresh holds the index lock
    ├── ModelError             the language or embedding model failed to load or run
    └── StorageError           the conversation database is unreachable or inconsistent
"""

from __future__ import annotations


class SupportbotError(Exception):
    """Base class: ``str(error)`` is a one-line message that says how to fix the problem."""

    exit_code = 1


class InputError(SupportbotError):
    """A command's argument cannot be used as given."""

    exit_code = 2


class ConfigError(SupportbotError):
    """A setting is invalid, or a file it names does not exist."""

    exit_code = 2


class SourceError(SupportbotError):
    """A knowledge source is missing, empty, or holds nothing readable."""

    exit_code = 2


class IndexMissingError(SupportbotError):
    """Asked a question before any knowledge index was built."""


class RefreshInProgressError(SupportbotError):
    """Another ingest or refresh is running on the same index."""

    exit_code = 3


class ModelError(SupportbotError):
    """A model could not be loaded or failed while generating."""


class StorageError(SupportbotError):
    """The conversation store could not be opened, migrated or written."""
