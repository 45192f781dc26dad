"""The sandbox as a process: state survives a restart; a failed start explains itself."""

import pytest
from sandbox_helpers import Api, login, person
from soap_helpers import Soap, invoice, line, product

from pg_sandbox.testing import SandboxStartError, run_sandbox


def test_records_and_tokens_survive_a_restart(tmp_path):
    db_path = tmp_path / "restart.sqlite"
    with run_sandbox(db_path) as first:
        token = login(first.base_url).json()["accessToken"]
        crm_id = Api(first.base_url, token).create("person", person(lastName="ماندگار"))

    with run_sandbox(db_path) as second:
        got = Api(second.base_url, token).get("person", crm_id)  # same token, no new login

    assert got["lastName"] == "ماندگار"


def test_a_server_that_cannot_start_reports_its_stderr(tmp_path):
    with pytest.raises(SandboxStartError, match="unable to open database file"):
        with run_sandbox(tmp_path):  # a directory, not a database file
            pass


def test_unknown_setting_is_rejected_before_starting(tmp_path):
    with pytest.raises(TypeError, match="latency"):
        with run_sandbox(tmp_path / "x.sqlite", latency=5):
            pass


def test_documents_survive_a_restart(tmp_path):
    db_path = tmp_path / "documents.sqlite"
    with run_sandbox(db_path) as first:
        token = login(first.base_url).json()["accessToken"]
        identity = Api(first.base_url, token).create("person", person())
        soap = Soap(first.base_url)
        soap.call("IProduct", "SaveProduct", product("KEEP-1"))
        crm_id = soap.call("IInvoice", "SaveInvoice", invoice(identity, "KEEP-INV", [line("KEEP-1")]))["CrmId"]

    with run_sandbox(db_path) as second:
        found = Soap(second.base_url).call("IInvoice", "FindInvoiceById", f"<invoiceId>{crm_id}</invoiceId>")

    assert found["InvoiceInfo"]["Number"] == "KEEP-INV"
