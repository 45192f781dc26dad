"""One sandbox process per test session, reached over real HTTP as hamgam's client does."""

import pytest
from sandbox_helpers import Api, login, person
from soap_helpers import Soap, product, unique_code

from pg_sandbox.settings import SandboxSettings
from pg_sandbox.testing import ANSWER_FAULTS, RunningSandbox, run_sandbox


@pytest.fixture(scope="session")
def pg(tmp_path_factory: pytest.TempPathFactory) -> RunningSandbox:
    with run_sandbox(tmp_path_factory.mktemp("pg") / "sandbox.sqlite", seed=1234) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def _no_faults_left_behind(pg: RunningSandbox):
    yield
    pg.set_faults(latency_ms=0, error_rate=0.0, error_after_commit_rate=0.0, rate_limit_rate=0.0, slow_rate=0.0,
                  slow_ms=0, retry_after_seconds=1, **{name: 0.0 for name in ANSWER_FAULTS}, token_ttl_seconds=SandboxSettings.token_ttl_seconds,
                  product_units=list(SandboxSettings.product_units),
                  receipt_type_code=SandboxSettings.receipt_type_code,
                  payment_type_code=SandboxSettings.payment_type_code,
                  purchase_invoice_type_code=SandboxSettings.purchase_invoice_type_code,
                  purchase_return_type_code=SandboxSettings.purchase_return_type_code)


@pytest.fixture
def token(pg: RunningSandbox) -> str:
    response = login(pg.base_url)
    assert response.status_code == 200, response.text
    return response.json()["accessToken"]


@pytest.fixture
def api(pg: RunningSandbox, token: str) -> Api:
    return Api(pg.base_url, token)


@pytest.fixture
def soap(pg: RunningSandbox) -> Soap:
    return Soap(pg.base_url)


@pytest.fixture
def identity(api: Api) -> str:
    """A live person's CrmId, the customer of invoices and payments."""
    return api.create("person", person())


@pytest.fixture
def product_code(soap: Soap) -> str:
    """The code of a live product (saved through SOAP SaveProduct)."""
    code = unique_code()
    saved = soap.call("IProduct", "SaveProduct", product(code))
    assert saved["Success"] == "true", saved
    return code
