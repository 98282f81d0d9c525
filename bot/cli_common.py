"""What every ``supportbot`` command shares: the ``--json`` option, the one ``Runtime`` per
invocation (settings read once, here) and the one-JSON-object output."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def get_runtime(ctx: typer.Context) -> Any:
    """The command's ``Runtime``, built on first use from the environment and ``.env`` by
    ``ctx.obj`` (``main(build=...)``: a callable taking the settings) or ``Runtime``."""
    from bot.runtime import Runtime
    from bot.settings import load_settings

    root = ctx.find_root()
    if "runtime" not in root.meta:
        build = ctx.obj if callable(ctx.obj) else Runtime
        runtime = build(load_settings())
        root.meta["runtime"] = runtime
        root.call_on_close(runtime.close)
    return root.meta["runtime"]


def emit(data: dict[str, Any]) -> None:
    """Exactly one JSON object on stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
