"""Platform-neutral core: domain types, ports (Protocols) and the router.

Nothing under ``bot.core`` imports Slack, Discord or LlamaIndex code.
"""
