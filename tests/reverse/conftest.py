"""Fixtures of the reverse-flow tests: one forward-synced world per session, one private copy per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from reverse_world import ReverseWorld, build_base, open_clone


@pytest.fixture(scope="session")
def reverse_snapshot(tmp_path_factory) -> Path:
    """Demo Tadbir data of companies 100 and 200 forward-synced into the sandbox (built once, ~10 s)."""
    return build_base(tmp_path_factory.mktemp("reverse-base"))


@pytest.fixture(scope="module")
def world(reverse_snapshot, tmp_path_factory) -> Iterator[ReverseWorld]:
    with open_clone(reverse_snapshot, tmp_path_factory.mktemp("reverse")) as opened:
        yield opened
