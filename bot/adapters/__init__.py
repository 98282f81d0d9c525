"""Platform adapters: translate platform payloads to and from ``bot.core.types``."""
