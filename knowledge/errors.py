"""The errors supportbot raises on purpose.

Every one of them carries a message meant for the person at the keyboard: it says what went
wrong and what to do about it. The command line prints it on one line and exits with its
``exit_code``; chat platforms show it as a reply. Anything else that escapes is a bug (exit 1).

    SupportbotError                                                        exit code
    ├── InputError             unusable input (an empty or over-long question)      2
    ├── ConfigError            a setting is wrong, a file it names is missing, or     2
    │                          the database it names cannot be opened
    ├── SourceError            a knowledge source path is missing, empty or unreadable 2
    ├── IndexMissingError      no knowledge index has been built yet                  2
    ├── RefreshInProgressError another refresh holds the index lock                   3
    └── ModelError             the language or embedding model failed to load or run  1
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

    exit_code = 2


class RefreshInProgressError(SupportbotError):
    """Another ingest or refresh is running on the same index."""

    exit_code = 3


class ModelError(SupportbotError):
    """A model could not be loaded or failed while generating."""
