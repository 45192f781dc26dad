"""Person and organization create/get/update/delete/find (§3.2-§3.4, §3.6)."""

import re

import pytest
from sandbox_helpers import assert_error, organization, person, unique_number

LOCAL_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?$")  # no offset (§3.0)
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_person_round_trip(api):
    sent = person(
        nickName="علی رضایی", nationalCode="0012345678", email="ali@example.com", refId="tadbir:100:42",
        birthDate="1990-03-21", balance=1500000, dontSms=True, tags=["tadbir"],
        phoneContacts=[{"phoneType": "موبایل", "phoneNumber": "09121234567", "default": True}],
        addressContacts=[{"city": "تهران", "address": "خیابان آزادی", "latitude": 35.7, "default": True}],
        categories=[{"key": "customer"}],
        extendedProperties=[{"userKey": "TadbirCode", "value": "10255"}],
    )

    crm_id = api.create("person", sent)
    got = api.get("person", crm_id)

    assert GUID.match(crm_id)
    for key in ("firstName", "lastName", "nickName", "nationalCode", "customerNumber", "email", "refId", "balance",
                "dontSms", "tags"):
        assert got[key] == sent[key]
    assert got["crmId"] == crm_id
    assert got["crmObjectTypeCode"] == "person" and got["crmObjectTypeIndex"] == 24
    assert got["birthDate"] == "1990-03-21T00:00:00"
    assert LOCAL_DATE.match(got["creatDate"]) and got["modifyDate"] == got["creatDate"]
    [phone] = got["phoneContacts"]
    assert GUID.match(phone["id"]) and phone["phoneNumber"] == "09121234567" and phone["default"] is True
    assert phone["extension"] is None
    assert got["addressContacts"][0]["city"] == "تهران"
    assert got["categories"][0]["key"] == "customer" and got["categories"][0]["identityId"] == crm_id
    assert got["extendedProperties"] == [{"name": None, "value": "10255", "userKey": "TadbirCode", "preview": None}]
    assert got["description"] is None and got["economicCode"] is None  # every model key is present


def test_pascal_case_and_camel_case_bodies_are_the_same(api):
    pascal = {"CrmObjectTypeCode": "person", "FirstName": "مریم", "LastName": "احمدی", "CustomerNumber": unique_number(),
              "PhoneContacts": [{"PhoneType": "Mobile", "PhoneNumber": "09350000000", "Default": True}], "Tags": None}
    camel = {"crmObjectTypeCode": "person", "firstName": "مریم", "lastName": "احمدی", "customerNumber": unique_number(),
             "phoneContacts": [{"phoneType": "Mobile", "phoneNumber": "09350000000", "default": True}], "tags": None}

    from_pascal = api.ok("crmobject/person/get", {"Id": api.create("person", pascal)})
    from_camel = api.get("person", api.create("person", camel))

    for key in ("firstName", "lastName", "tags"):
        assert from_pascal[key] == from_camel[key]
    assert from_pascal["phoneContacts"][0]["phoneNumber"] == from_camel["phoneContacts"][0]["phoneNumber"]


def test_update_replaces_the_fields_sent_and_keeps_the_others(api):
    crm_id = api.create("person", person(nationalCode="0011111111",
                                         phoneContacts=[{"phoneNumber": "0211", "default": True}]))
    before = api.get("person", crm_id)
    kept_phone = before["phoneContacts"][0]

    answer = api.ok("crmobject/person/update", {
        "CrmId": crm_id, "FirstName": "رضا", "Description": None,
        "PhoneContacts": [kept_phone, {"PhoneNumber": "0212", "Default": False}],
    })
    after = api.get("person", crm_id)

    assert answer == {"crmId": crm_id}
    assert after["firstName"] == "رضا" and after["lastName"] == before["lastName"]
    assert after["nationalCode"] == "0011111111" and after["customerNumber"] == before["customerNumber"]
    assert [p["phoneNumber"] for p in after["phoneContacts"]] == ["0211", "0212"]
    assert after["phoneContacts"][0]["id"] == kept_phone["id"]  # an item sent with its id keeps it
    assert after["creatDate"] == before["creatDate"] and after["modifyDate"] >= before["modifyDate"]


def test_delete_answers_empty_200_and_the_record_is_gone(api):
    sent = person()
    crm_id = api.create("person", sent)

    response = api.post("crmobject/person/delete", {"Id": crm_id, "Option": 1})

    assert response.status_code == 200 and response.content == b""
    assert_error(api.post("crmobject/person/get", {"id": crm_id}), 404, "not_found")
    assert_error(api.post("crmobject/person/update", {"crmId": crm_id, "lastName": "x"}), 404)
    assert_error(api.post("crmobject/person/delete", {"id": crm_id}), 404)
    assert api.find("person", ("CustomerNumber", 0, sent["customerNumber"]))["total"] == 0
    api.create("person", person(customerNumber=sent["customerNumber"]))  # the number is free again


def test_get_with_the_other_kind_is_404(api):
    crm_id = api.create("organization", organization())
    assert_error(api.post("crmobject/person/get", {"id": crm_id}), 404)


@pytest.mark.parametrize("field, key", [("CustomerNumber", "customerNumber"), ("RefId", "refId"),
                                        ("NationalCode", "nationalCode")])
def test_find_by_key(api, field, key):
    wanted = person(refId=f"ref-{unique_number()}", nationalCode=unique_number())
    crm_id = api.create("person", wanted)
    api.create("person", person(refId=f"ref-{unique_number()}"))

    found = api.find("person", (field, 0, wanted[key]), pageNumber=1, pageSize=10)

    assert found["total"] == 1
    assert found["data"][0]["crmId"] == crm_id and found["data"][0]["includedFields"] == {}


def test_find_with_several_queries_ands_them(api):
    ref = f"ref-{unique_number()}"
    first = api.create("person", person(refId=ref, nationalCode="0022222222"))
    api.create("person", person(refId=f"{ref}-other", nationalCode="0022222222"))

    both = api.find("person", ("RefId", 0, ref), ("NationalCode", 0, "0022222222"))
    none = api.find("person", ("RefId", 0, ref), ("NationalCode", 0, "0099999999"))

    assert [d["crmId"] for d in both["data"]] == [first]
    assert none == {"total": 0, "data": []}


def test_find_pascal_case_model_with_or_and_text_operators(api):
    ref = f"ref-{unique_number()}"
    a = api.create("person", person(refId=f"{ref}-a"))
    b = api.create("person", person(refId=f"{ref}-b"))
    body = {"Queries": [
        {"Field": "RefId", "Operator": 0, "Value": f"{ref}-a", "LogicalOperator": 0},
        {"Field": "RefId", "Operator": 13, "Value": "-B", "LogicalOperator": 1},  # Or TextEndsWith
    ], "Orders": [{"Field": "RefId", "Order": 1}], "PageNumber": 1, "PageSize": 10}

    found = api.ok("crmobject/person/find", body)

    assert [d["crmId"] for d in found["data"]] == [b, a]  # descending RefId
    assert api.find("person", ("RefId", 12, ref))["total"] == 2  # TextContains


def test_find_pages_are_one_based(api):
    ref = f"ref-{unique_number()}"
    ids = [api.create("person", person(refId=ref)) for _ in range(5)]

    pages = [api.find("person", ("RefId", 0, ref), pageNumber=n, pageSize=2) for n in (1, 2, 3, 4)]

    assert all(p["total"] == 5 for p in pages)
    assert [d["crmId"] for p in pages for d in p["data"]] == ids
    assert pages[3]["data"] == []


def test_find_only_returns_its_own_kind(api):
    ref = f"ref-{unique_number()}"
    api.create("organization", organization(refId=ref))
    assert api.find("person", ("RefId", 0, ref))["total"] == 0
    assert api.find("organization", ("RefId", 0, ref))["total"] == 1
    assert api.find("organization", ("RefId", 0, ref), typeKey="Organization")["total"] == 1  # subtype code
    assert api.find("organization", ("RefId", 0, ref), typeKey="other")["total"] == 0


def test_organization_lifecycle(api):
    sent = organization(economicCode="411111111111", registerNumber="12345", nationalCode="10101010101",
                        refId=f"ref-{unique_number()}", registerDate="2001-05-06T00:00:00")

    crm_id = api.create("organization", sent)
    got = api.get("organization", crm_id)
    api.ok("crmobject/organization/update", {"crmId": crm_id, "nickName": "شرکت نمونه نو", "economicCode": "4122"})
    updated = api.get("organization", crm_id)
    found = api.find("organization", ("RefId", 0, sent["refId"]))
    deleted = api.post("crmobject/organization/delete", {"id": crm_id, "option": 1})

    assert got["nickName"] == "شرکت نمونه" and got["registerNumber"] == "12345"
    assert got["crmObjectTypeIndex"] == 24 and got["employees"] == []
    assert updated["nickName"] == "شرکت نمونه نو" and updated["economicCode"] == "4122"
    assert updated["registerNumber"] == "12345"
    assert found["total"] == 1 and found["data"][0]["nickName"] == "شرکت نمونه نو"
    assert deleted.status_code == 200
    assert_error(api.post("crmobject/organization/get", {"id": crm_id}), 404)
