"""What every ``supportbot`` command shares: the ``--json`` option, the one ``Runtime`` per
invocation (settings read once, here) and the one-JSON-object output."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def get_runtime(ctx: typer.Context) -> Any:
    """The command's ``Runtime``, built on first use from the environment and ``.env``."""
    from bot.runtime import Runtime
    from bot.settings import load_settings

    if ctx.obj is None:
        ctx.obj = Runtime(load_settings())
        ctx.call_on_close(ctx.obj.close)
    return ctx.obj


def emit(data: dict[str, Any]) -> None:
    """Exactly one JSON object on stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
