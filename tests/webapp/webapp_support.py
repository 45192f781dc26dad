"""What the web app tests share: the secret, record ids, a test client, a recording notifier."""

from __future__ import annotations

import warnings
from typing import Any

with warnings.catch_warnings():  # starlette 1.x prefers httpx2 for its TestClient; httpx works as well
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

SECRET = "s3cret-for-the-webhook-tests"
GUID = "880d8361-7560-45b7-9670-79d91257f59a"
OTHER_GUID = "0b9c7c2e-5f7a-4b86-9a37-2d1f5e0c4a11"


def make_client(app: Any) -> TestClient:
    return TestClient(app)


class Notifier:
    """A notify hook that records its calls, and raises if told to."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.error: Exception | None = None

    def __call__(self, asset_uri: str, extra: dict) -> None:
        self.calls.append((asset_uri, extra))
        if self.error is not None:
            raise self.error
