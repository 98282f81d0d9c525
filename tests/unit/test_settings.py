"""Settings: invalid values become one-line ``ConfigError``s naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import load_settings
from knowledge.errors import ConfigError


def _error(**overrides: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(**overrides)
    message = str(caught.value)
    assert "\n" not in message
    assert caught.value.exit_code != 0
    return message


@pytest.mark.parametrize(("field", "value"), [
    ("top_k", 0), ("top_k", 21), ("chunk_size", 8), ("llm_temperature", -1),
    ("min_relevance", 1.5), ("llm_backend", "gpt"), ("retrieval_mode", "fuzzy"),
    ("company_name", ""),
])
def test_invalid_value_names_the_setting(field: str, value: object) -> None:
    message = _error(**{field: value})
    assert message.startswith(f"Invalid setting {field.upper()}:")
    assert ".env" in message


def test_invalid_value_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOP_K", "0")
    assert _error().startswith("Invalid setting TOP_K: Input should be greater than or equal")


def test_non_numeric_environment_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HISTORY_TURNS", "lots")
    assert _error().startswith("Invalid setting HISTORY_TURNS:")


def test_overlap_must_be_below_chunk_size() -> None:
    message = _error(chunk_size=64, chunk_overlap=64)
    assert message.startswith("Invalid setting CHUNK_OVERLAP: Value error, must be smaller than "
                              "CHUNK_SIZE (64)")


def test_valid_settings_and_derived_paths(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.setenv("SUPPORTBOT_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("top_k", "5")  # names are case-insensitive
    settings = load_settings()
    assert settings.top_k == 5
    assert settings.index_dir == tmp_path / "h" / "index"
    assert settings.db_url == f"sqlite:///{tmp_path / 'h' / 'supportbot.db'}"
    assert load_settings(database_url="sqlite:////x/y.db").db_url == "sqlite:////x/y.db"


def test_dotenv_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TOP_K=0\n")  # the tests run in tmp_path
    assert _error().startswith("Invalid setting TOP_K:")


def test_every_setting_is_documented_in_env_example() -> None:
    from pathlib import Path

    from bot.settings import Settings

    documented = (Path(__file__).parents[2] / ".env.example").read_text()
    missing = [name.upper() for name in Settings.model_fields
               if f"{name.upper()}=" not in documented]
    assert missing == []


def test_adapters_are_in_the_home_unless_adapters_dir_names_a_shared_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADAPTERS_DIR", "")  # as .env.example has it
    assert load_settings(supportbot_home=tmp_path / "h").adapters_dir == tmp_path / "h" / "adapters"
    monkeypatch.setenv("ADAPTERS_DIR", "/mnt/shared/adapters")
    assert load_settings().adapters_dir == Path("/mnt/shared/adapters")
