"""The deployment files as the tests read them: docker-compose.yaml (raw, and interpolated the way Compose does it
with a given .env), .env.example, config/airflow.env and the Dockerfile."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
AIRFLOW_ENV = ROOT / "config" / "airflow.env"
DOCKERFILE = ROOT / "Dockerfile"

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}; $$ is a literal $
_VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


def compose_raw() -> dict[str, Any]:
    """docker-compose.yaml as YAML (anchors and merge keys resolved), before interpolation."""
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def variables_used(text: str) -> set[str]:
    return {m["name"] for m in _VARIABLE.finditer(text) if m["name"]}


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (comments and blank lines skipped; one pair of enclosing single or double quotes removed)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """``text`` with every variable replaced as Compose replaces it; a required one unset raises KeyError."""

    def one(match: re.Match[str]) -> str:
        name = match["name"]
        if name is None:
            return "$"
        value, op = env.get(name), match["op"] or ""
        unset_or_empty = value is None or (op.startswith(":") and value == "")
        if op.endswith("-") and unset_or_empty:
            return match["arg"]
        if op.endswith("?") and unset_or_empty:
            raise KeyError(f"{name}: {match['arg']}")
        return value or ""

    return _VARIABLE.sub(one, text)


def _interpolated(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, str):
        return interpolate(value, env)
    if isinstance(value, dict):
        return {key: _interpolated(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolated(item, env) for item in value]
    return value


def compose_with(env: dict[str, str]) -> dict[str, Any]:
    """docker-compose.yaml interpolated with ``env`` as ``docker compose --env-file`` does it: after parsing, in
    every string value (so a JSON value stays a string)."""
    return _interpolated(compose_raw(), env)


def airflow_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: service for name, service in compose["services"].items() if name.startswith("airflow-")}


def dockerfile_stages() -> dict[str, list[str]]:
    """The Dockerfile's instructions (continuation lines joined, comments dropped) per stage name."""
    stages: dict[str, list[str]] = {}
    current: list[str] | None = None
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            name = line.split()[-1] if " AS " in line.upper() else str(len(stages))
            current = stages.setdefault(name, [])
        assert current is not None, f"Dockerfile: {line!r} before the first FROM"
        current.append(line)
    return stages


def in_build_context(path: str) -> bool:
    """Whether ``path`` (relative, with /) is sent to the builder under .dockerignore: the last matching rule
    decides; ``!`` lets a path back in; a rule naming a directory covers what is under it; ``**/`` any depth.
    (The subset of Docker's rules the project's .dockerignore uses.)"""
    included = True
    for rule in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        rule = rule.strip()
        if not rule or rule.startswith("#"):
            continue
        negate, pattern = rule.startswith("!"), rule.lstrip("!").rstrip("/")
        parts = path.split("/")
        if pattern.startswith("**/"):
            matched = any(fnmatch.fnmatchcase(part, pattern[3:]) for part in parts)
        else:
            depth = pattern.count("/") + 1
            matched = fnmatch.fnmatchcase("/".join(parts[:depth]), pattern)
        if matched:
            included = negate
    return included
