"""Fixtures of the end-to-end tests: a local SMTP server and one world per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_world import Mailbox, World, free_port, open_world


@pytest.fixture(scope="session")
def smtp() -> Mailbox:
    from aiosmtpd.controller import Controller

    mailbox = Mailbox(port=free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    yield mailbox
    controller.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_db, smtp) -> Iterator[World]:
    with open_world(tmp_path_factory.mktemp("e2e"), airflow_db, smtp) as opened:
        yield opened
