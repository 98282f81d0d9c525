"""deploy/docker-compose.yml stays consistent with the settings and with what the tests prove
about generation on a server (tests/integration/test_llama_server.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.settings import Settings

DEPLOY = Path(__file__).parents[2] / "deploy"
COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
WORKER_ENV: dict[str, str] = SERVICES["worker"]["environment"]


def _flags(command: list[str]) -> dict[str, str]:
    return {name: value for name, _, value in (arg.partition("=") for arg in command)}


def test_the_workers_set_only_real_settings_and_generate_on_the_server() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    assert set(WORKER_ENV) <= fields, set(WORKER_ENV) - fields
    assert SERVICES["init"]["environment"] == WORKER_ENV
    assert WORKER_ENV["LLM_BACKEND"] == "openai" and WORKER_ENV["OPENAI_LORA_LOAD"] == "vllm"
    assert WORKER_ENV["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "pgvector" in SERVICES["postgres"]["image"]


def test_vllm_serves_the_workers_base_name_and_loads_adapters_from_their_path() -> None:
    vllm = SERVICES["vllm"]
    flags = _flags(vllm["command"])
    assert "--enable-lora" in flags and flags["--served-model-name"] == WORKER_ENV["LLM_MODEL"]
    assert WORKER_ENV["OPENAI_API_BASE"] == f"http://vllm:{flags['--port']}/v1"
    assert vllm["environment"]["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "True"
    home = WORKER_ENV["SUPPORTBOT_HOME"]
    # promote sends the worker's path of the adapter folder: vLLM must see the same path
    assert f"data:{home}:ro" in vllm["volumes"] and f"data:{home}" in SERVICES["worker"]["volumes"]
