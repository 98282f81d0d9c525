"""Settings: read once, in the entry point, from the environment and ``.env``; passed down.

Every field is documented in ``.env.example``. Nothing below ``bot/cli.py`` reads the
environment itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from knowledge.errors import ConfigError
from knowledge.prompts import CONTEXT_CHARS

LLMBackend = Literal["llama_cpp", "transformers", "openai"]
RetrievalMode = Literal["hybrid", "dense", "bm25"]


class Settings(BaseSettings):
    """All of supportbot's configuration. Environment variable = field name in capitals."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    supportbot_home: Path = Field(
        Path(".supportbot"), description="Folder holding the database, index and adapters."
    )
    database_url: str = Field("", description="SQLAlchemy URL; empty = SQLite in the home.")
    vector_store: Literal["auto", "faiss", "pgvector"] = Field(
        "auto", description="The index: faiss (files in the home) | pgvector (in the PostgreSQL "
        "DATABASE_URL, shared by every worker); auto = pgvector on PostgreSQL, else faiss.")
    adapters_dir: Path = Field(
        default_factory=lambda data: Path(data["supportbot_home"]) / "adapters",
        description="The adapter registry's files: a path every worker can read (a shared "
        "volume); default: adapters/ in the home. Which one is served is in the database.")

    llm_backend: LLMBackend = Field("llama_cpp", description="llama_cpp | transformers | openai")
    llm_model: str = Field(
        "", description="GGUF path (llama_cpp), HF id/dir (transformers) or model name (openai)."
    )
    llm_gguf_file: str = Field("", description="transformers: GGUF file name inside llm_model.")
    llm_adapter: str = Field(
        "", description="LoRA adapter: GGUF LoRA file, PEFT folder or served name (openai).")
    shipped_adapter: bool = Field(
        True, description="Serve the adapter shipped with supportbot until one is trained "
        "(embedded model, llama_cpp backend only).")
    llm_max_new_tokens: int = Field(120, ge=1, le=4096)
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0)
    llm_quant: str = Field(
        "q8_0", description="llama_cpp: serve the GGUF requantized to q8_0|q4_0|f16; empty = as is."
    )
    llm_merge_adapter: bool = Field(
        True, description="llama_cpp: serve a LoRA merged into the base weights (needs LLM_QUANT)."
    )
    llm_repack: Literal["auto", "on", "off"] = Field(
        "auto", description="llama_cpp: repacked/AMX weight buffers; auto = off on AMX builds.")
    llm_flash_attn: bool = Field(
        False, description="llama_cpp: flash attention (faster prefill, slower decode on CPUs).")
    llm_repeat_penalty: float = Field(1.2, ge=1.0, le=2.0, description="1.0 = off.")
    llm_context_window: int = Field(2048, ge=256)
    llm_threads: int = Field(0, ge=0, description="CPU threads for llama.cpp; 0 = all cores.")
    openai_api_base: str = Field("http://127.0.0.1:8000/v1")
    openai_api_key: SecretStr = Field(SecretStr("not-needed"))
    openai_lora_load: Literal["none", "vllm"] = Field(
        "none", description="openai: on promote, check the server serves the adapter (none) or "
        "register it with vLLM's /v1/load_lora_adapter first (vllm).")

    embed_model: str = Field("", description="Embedding model path or HF id; empty = MiniLM.")
    chunk_size: int = Field(448, ge=32, le=4096, description="Chunk size in embedding tokens.")
    chunk_overlap: int = Field(48, ge=0)
    top_k: int = Field(3, ge=1, le=20)
    context_chars: int = Field(
        CONTEXT_CHARS, ge=0, le=20000,
        description="Characters of each retrieved chunk shown to the model (0 = all).")
    answer_quotes: bool = Field(
        True, description="Quote the retrieved sentences closest to the question in answers.")
    quote_sentences: int = Field(
        3, ge=1, le=5, description="Sentences quoted at most (a short list is quoted whole).")
    retrieval_mode: RetrievalMode = "hybrid"
    min_relevance: float = Field(
        0.3, ge=0.0, le=1.0, description="Below this dense similarity nothing is relevant."
    )
    history_turns: int = Field(6, ge=0, le=50)
    max_question_chars: int = Field(2000, ge=10)
    shutdown_grace: float = Field(
        30.0, ge=0, le=600,
        description="Seconds serve waits for answers in flight on SIGTERM/SIGINT.")
    company_name: str = Field("Orbitask", min_length=1)

    # serving (all platforms)
    workers: int = Field(2, ge=1, le=64, description="Answers generated at once.")
    max_pending: int = Field(32, ge=1, description="Questions waiting before 'busy' replies.")
    generation_timeout: float = Field(120.0, gt=0, description="Seconds before 'took too long'.")
    rate_limit_per_minute: int = Field(6, ge=0, description="Questions per user; 0 = no limit.")
    feedback_reactions: str = Field(
        "+1=1,-1=-1,thumbsup=1,thumbsdown=-1,👍=1,👎=-1",
        description="Reaction name = score pairs that count as feedback.",
    )

    # Slack
    slack_bot_token: SecretStr = Field(SecretStr(""), description="xoxb-…; enables Slack.")
    slack_app_token: SecretStr = Field(SecretStr(""), description="xapp-… for Socket Mode.")
    slack_signing_secret: SecretStr = Field(SecretStr(""), description="Verifies HTTP requests.")
    slack_mode: Literal["socket", "http"] = "socket"
    slack_host: str = Field("0.0.0.0", description="HTTP mode: address to listen on.")
    slack_port: int = Field(3000, ge=1, le=65535)
    slack_api_url: str = Field("https://slack.com/api/", description="Web API base URL.")
    slack_admin_user_ids: str = Field("", description="Comma-separated Slack user ids.")
    slack_command: str = Field("/kb", pattern=r"^/[a-z0-9_-]{1,31}$")
    slack_streaming: bool = Field(
        True, description="Stream answers with chat.startStream where Slack allows it.")
    slack_suggested_prompts: str = Field(
        "What can you help me with?|How do I get a refund?|How do I reset my password?",
        description="Prompts offered when a user opens an assistant thread, '|'-separated.")

    # Discord
    discord_token: SecretStr = Field(SecretStr(""), description="Bot token; enables Discord.")
    discord_admin_user_ids: str = Field("", description="Comma-separated Discord user ids.")
    discord_admin_role: str = Field("", description="Members with this role are admins.")

    # Hand-off to a human: where "Talk to a human" is posted, and who is mentioned
    handoff_slack_channel: str = Field(
        "", description="Slack channel id for hand-offs; empty = recorded and listed only.")
    handoff_slack_mention: str = Field(
        "", description="Slack user-group id (S…) mentioned on a hand-off.")
    handoff_discord_channel: str = Field(
        "", pattern=r"^\d*$", description="Discord channel id for hand-offs; empty = "
        "recorded and listed only.")
    handoff_discord_mention: str = Field(
        "", pattern=r"^\d*$", description="Discord role id mentioned on a hand-off.")

    # Web console (``supportbot serve``)
    web_enabled: bool = Field(True, description="Serve the web console, /healthz, /readyz, "
                              "/metrics and Slack's HTTP endpoint from one server.")
    web_host: str = Field("127.0.0.1", description="Web console: address to listen on.")
    web_port: int = Field(8080, ge=0, le=65535, description="0 = any free port.")
    web_public_chat: bool = Field(False, description="Let visitors chat without logging in.")
    web_secret_key: SecretStr = Field(
        SecretStr(""), description="Signs session cookies; empty = a random key kept in the "
        "home (web-secret).")
    web_secure_cookies: bool = Field(
        False, description="Send session cookies over HTTPS only (set behind TLS).")

    @field_validator("adapters_dir", mode="before")
    @classmethod
    def _adapters_in_home(cls, value: object, info: ValidationInfo) -> object:
        """``ADAPTERS_DIR=`` (as in .env.example): adapters/ in the home."""
        if value == "":
            return Path(info.data.get("supportbot_home", ".supportbot")) / "adapters"
        return value

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, value: int, info: object) -> int:
        size = getattr(info, "data", {}).get("chunk_size", 448)
        if value >= size:
            raise ValueError(f"must be smaller than CHUNK_SIZE ({size})")
        return value

    def masked(self) -> dict[str, str]:
        """Every setting as text for the console, secrets shown only as set or not set."""
        out = {}
        for name, value in self:
            if isinstance(value, SecretStr):
                value = "•••••• (set)" if value.get_secret_value() else "(not set)"
            out[name.upper()] = str(value)
        return out

    def reaction_scores(self) -> dict[str, int]:
        """``FEEDBACK_REACTIONS`` parsed: ``{"+1": 1, "-1": -1, ...}``."""
        pairs: dict[str, int] = {}
        for item in filter(None, (p.strip() for p in self.feedback_reactions.split(","))):
            name, _, score = item.rpartition("=")
            try:
                pairs[name.strip().strip(":")] = int(score)
            except ValueError:
                raise ConfigError(
                    f"Invalid setting FEEDBACK_REACTIONS: {item!r} is not name=score "
                    "(e.g. +1=1,-1=-1)."
                ) from None
        return pairs

    def admin_ids(self, platform: str) -> frozenset[str]:
        raw = self.slack_admin_user_ids if platform == "slack" else self.discord_admin_user_ids
        ids = {part.strip() for part in raw.split(",") if part.strip()}
        if platform == "discord" and self.discord_admin_role:
            ids.add(self.discord_admin_role)
        return frozenset(ids)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.supportbot_home / 'supportbot.db'}"

    @property
    def index_dir(self) -> Path:
        return self.supportbot_home / "index"


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning validation errors into one-line ``ConfigError``s."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]).upper() or "settings"
        raise ConfigError(
            f"Invalid setting {field}: {first['msg']} — fix it in the environment or .env "
            "(see .env.example)."
        ) from None
