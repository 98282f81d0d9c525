"""The web console: one ASGI server for the console, the JSON API, Slack's HTTP endpoint,
/healthz, /readyz and /metrics (``bot.web.app.create_app``)."""
