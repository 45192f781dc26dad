"""ICrmObjectType (§4.3 Helpers): the subtypes the sandbox lists per index, the check of a Save*'s
CrmObjectTypeId, and how SOAP refuses wrong credentials or a missing permission (soap_refusal)."""

import pytest
from soap_helpers import SOAP_ENV, TEMPURI, ZERO_GUID, payment, result, unique_code

from pg_sandbox.settings import SandboxSettings


def type_call(soap, operation: str, params: str, *, user: str = SandboxSettings.username,
              password: str = SandboxSettings.password):
    """ICrmObjectType spells the user element ``username`` (ICrmObjectType.xsd)."""
    body = (f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Body><{operation} xmlns="{TEMPURI}">'
            f"<username>{user}</username><password>{password}</password>{params}</{operation}></s:Body></s:Envelope>")
    return soap.post("ICrmObjectType", operation, body)


def type_list(soap, index: str, **credentials) -> dict:
    response = type_call(soap, "GetCrmObjectTypeList", f"<crmObjectTypeIndex>{index}</crmObjectTypeIndex>",
                         **credentials)
    assert response.status_code == 200, response.text
    return result(response, "GetCrmObjectTypeList")


@pytest.fixture(autouse=True)
def _default_subtypes_and_access(pg):
    yield
    pg.set_faults(quote_type_codes=list(SandboxSettings.quote_type_codes), soap_refusal="fault",
                  soap_denied_operations=[])


def test_each_index_lists_the_subtypes_of_the_settings(pg, soap):
    pg.set_faults(quote_type_codes=["quote", "PI_5"])

    quotes = type_list(soap, "Quote")["CrmObjectTypeList"]
    receipts = type_list(soap, "Receipt")["CrmObjectTypeList"]

    assert [(t["UserKey"], t["CrmObjectType"], t["IsActive"]) for t in quotes] == [
        ("quote", "Quote", "true"), ("PI_5", "Quote", "true")]
    assert [t["UserKey"] for t in receipts] == ["receipt"]
    assert type_list(soap, "Ticket") == {"Message": None, "Success": "true", "CrmObjectTypeList": []}
    info = result(type_call(soap, "GetCrmObjectTypeInfo", "<typeKeyOrId>PI_5</typeKeyOrId>"), "GetCrmObjectTypeInfo")
    assert (info["Success"], info["Id"], info["UserKey"]) == ("true", quotes[1]["Id"], "PI_5")


def test_a_save_naming_a_subtype_of_another_index_is_refused(soap, identity):
    receipt_id = type_list(soap, "Receipt")["CrmObjectTypeList"][0]["Id"]
    payment_id = type_list(soap, "Payment")["CrmObjectTypeList"][0]["Id"]

    good = soap.call("IPayment", "SavePayment", payment(identity, unique_code("R"), type_id=receipt_id))
    wrong = soap.call("IPayment", "SavePayment", payment(identity, unique_code("R"), type_id=payment_id))
    unknown = soap.call("IPayment", "SavePayment", payment(identity, unique_code("R"), type_id=ZERO_GUID[:-1] + "1"))

    assert good["Success"] == "true"
    assert (wrong["Success"], wrong["CrmId"]) == ("false", ZERO_GUID)
    assert "Payment subtype 'payment'" in wrong["Message"] and "receipt (Receipt)" in wrong["Message"]
    assert unknown["Success"] == "false" and "no subtype" in unknown["Message"]


def test_the_type_service_checks_credentials_like_the_others(soap):
    response = type_call(soap, "GetCrmObjectTypeList", "<crmObjectTypeIndex>Quote</crmObjectTypeIndex>",
                         password="wrong")
    assert response.status_code == 500 and "user name or password" in response.text


def test_refusals_can_be_answered_as_success_false(pg, soap, identity):
    pg.set_faults(soap_refusal="result")

    bad_password = type_list(soap, "Quote", password="wrong")
    saved = soap.post("IPayment", "SavePayment", _payment_envelope(identity, password="wrong"))

    assert bad_password == {"Message": "The user name or password is incorrect.", "Success": "false",
                            "CrmObjectTypeList": None}
    assert saved.status_code == 200
    answer = result(saved, "SavePayment")
    assert (answer["Success"], answer["CrmId"]) == ("false", ZERO_GUID) and "password" in answer["Message"]


def test_an_operation_the_user_may_not_call_is_refused(pg, soap, identity):
    pg.set_faults(soap_denied_operations=["IPayment/SavePayment"], soap_refusal="result")

    denied = soap.call("IPayment", "SavePayment", payment(identity, unique_code("R")))

    assert denied["Success"] == "false" and denied["Message"].startswith("Access denied")
    assert type_list(soap, "Receipt")["Success"] == "true"  # other operations are allowed
    pg.set_faults(soap_refusal="fault")
    response = soap.post("IPayment", "SavePayment", _payment_envelope(identity))
    assert response.status_code == 500 and "Access denied" in response.text


def _payment_envelope(identity: str, password: str = SandboxSettings.password) -> str:
    from soap_helpers import envelope

    return envelope("SavePayment", payment(identity, unique_code("R")), password=password)
