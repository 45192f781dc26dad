"""One sandbox process per test session, reached over real HTTP as hamgam's client does."""

import pytest
from sandbox_helpers import Api, login

from pg_sandbox.settings import SandboxSettings
from pg_sandbox.testing import RunningSandbox, run_sandbox


@pytest.fixture(scope="session")
def pg(tmp_path_factory: pytest.TempPathFactory) -> RunningSandbox:
    with run_sandbox(tmp_path_factory.mktemp("pg") / "sandbox.sqlite", seed=1234) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def _no_faults_left_behind(pg: RunningSandbox):
    yield
    pg.set_faults(latency_ms=0, error_rate=0.0, error_after_commit_rate=0.0, rate_limit_rate=0.0, slow_rate=0.0,
                  slow_ms=0, retry_after_seconds=1, token_ttl_seconds=SandboxSettings.token_ttl_seconds)


@pytest.fixture
def token(pg: RunningSandbox) -> str:
    response = login(pg.base_url)
    assert response.status_code == 200, response.text
    return response.json()["accessToken"]


@pytest.fixture
def api(pg: RunningSandbox, token: str) -> Api:
    return Api(pg.base_url, token)
