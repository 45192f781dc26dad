"""A local mail sink for `make up`: an SMTP server on 127.0.0.1 that keeps every message it receives as one
``.eml`` file in a folder (``data/mail/`` under `make up`), so a user sees hamgam's alert e-mails without a
mail server. Open a file with any mail client, or read it as text.

    python -m hamgam_dev.mail_sink --folder data/mail --port 8025
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MailFolder:
    """The aiosmtpd handler: each message's bytes, as received, into ``<folder>/<UTC time>-<n>.eml``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def path_for_next(self) -> Path:
        with self._lock:
            number = next(self._numbers)
        return self.folder / f"{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}-{number}.eml"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path_for_next()
        partial = path.with_suffix(".part")  # a reader never sees half a message
        partial.write_bytes(envelope.content if isinstance(envelope.content, bytes)
                            else str(envelope.content).encode())
        os.replace(partial, path)
        return "250 OK"


class MailSink:
    """The SMTP server (aiosmtpd, in a thread of its own) writing into ``folder``; a context manager."""

    def __init__(self, folder: Path, port: int = 0) -> None:
        self.folder = Path(folder)
        self.port = port or free_port()
        self._controller: Any = None

    def start(self) -> MailSink:
        from aiosmtpd.controller import Controller

        self._controller = Controller(MailFolder(self.folder), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=Path("data/mail"))
    parser.add_argument("--port", type=int, default=8025)
    args = parser.parse_args(argv)
    with MailSink(args.folder, args.port) as sink:
        print(f"mail sink: SMTP on 127.0.0.1:{sink.port}, one .eml per message in {sink.folder}; Ctrl-C stops it",
              flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
