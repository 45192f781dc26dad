"""SandboxSettings: defaults, PG_SANDBOX_* variables, validation, command-line flags."""

import pytest

from pg_sandbox.__main__ import parse_args, settings_from_args
from pg_sandbox.settings import SandboxSettings


def test_defaults():
    settings = SandboxSettings()
    assert (settings.username, settings.password, settings.token_ttl_seconds) == ("hamgam", "hamgam-demo", 7200)
    assert settings.error_rate == settings.latency_ms == 0 and settings.seed is None


def test_from_env_reads_prefixed_variables():
    env = {"PG_SANDBOX_DB_PATH": "/tmp/x.sqlite", "PG_SANDBOX_ERROR_RATE": "0.25", "PG_SANDBOX_LATENCY_MS": "40",
           "PG_SANDBOX_SEED": "7", "UNRELATED": "1"}
    settings = SandboxSettings.from_env(env)
    assert (settings.db_path, settings.error_rate, settings.latency_ms, settings.seed) == ("/tmp/x.sqlite", 0.25, 40, 7)


@pytest.mark.parametrize("bad", [{"error_rate": 1.5}, {"slow_rate": -0.1}, {"latency_ms": -5}])
def test_out_of_range_values_are_refused(bad):
    with pytest.raises(ValueError):
        SandboxSettings(**bad)


def test_flags_override_environment(monkeypatch):
    monkeypatch.setenv("PG_SANDBOX_ERROR_RATE", "0.5")
    monkeypatch.setenv("PG_SANDBOX_SLOW_MS", "300")
    args = parse_args(["--port", "9000", "--db", "d.sqlite", "--error-rate", "0.1", "--seed", "3"])
    settings = settings_from_args(args)
    assert args.port == 9000
    assert (settings.db_path, settings.error_rate, settings.slow_ms, settings.seed) == ("d.sqlite", 0.1, 300, 3)
