"""400s the way an ASP.NET server gives them: wrong JSON types, missing fields, duplicates."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sandbox_helpers import assert_error, organization, person

WRONG_TYPES = [
    ("dontSms", "true"),  # a string for a bool
    ("balance", "1000"),  # a string for a decimal
    ("colorId", 1.5),  # a fraction for an int
    ("phoneContacts", {"phoneNumber": "0211"}),  # an object where a list is expected
    ("tags", "vip"),  # a string where an array is expected
    ("customerNumber", 1001),  # a number for a string
    ("birthDate", "1403/01/01"),  # not an ISO date
    ("categories", [{"key": 5}]),
]


@pytest.mark.parametrize("field, value", WRONG_TYPES, ids=[f for f, _ in WRONG_TYPES])
def test_wrong_json_type_is_400_naming_the_field(api, field, value):
    assert_error(api.post("crmobject/person/create", person(**{field: value})), 400, "invalid_type", mentions=field)


def test_null_for_a_non_nullable_bool_is_400(api):
    body = person(phoneContacts=[{"phoneNumber": "0211", "default": None}])
    assert_error(api.post("crmobject/person/create", body), 400, "invalid_type", mentions="phoneContacts[0].default")


@pytest.mark.parametrize("path, body", [
    ("person/get", {"id": "not-a-guid"}),
    ("person/update", {"crmId": "123", "lastName": "x"}),
    ("person/delete", {"id": "123"}),
])
def test_malformed_guid_is_400(api, path, body):
    assert_error(api.post(f"crmobject/{path}", body), 400, "invalid_type")


@pytest.mark.parametrize("kind, body, field", [
    ("person", person(crmObjectTypeCode=None), "crmObjectTypeCode"),
    ("person", person(lastName="  "), "lastName"),
    ("organization", organization(nickName=None), "nickName"),
    ("organization", {"crmObjectTypeCode": "organization"}, "nickName"),
])
def test_missing_required_field_is_400(api, kind, body, field):
    assert_error(api.post(f"crmobject/{kind}/create", body), 400, "required", mentions=field)


def test_person_with_nick_name_only_is_fine(api):
    api.create("person", person(lastName=None, firstName=None, nickName="آقای رضایی"))


@pytest.mark.parametrize("path, body, field", [
    ("person/get", {}, "id"),
    ("person/update", {"lastName": "x"}, "crmId"),
    ("person/delete", {"option": 1}, "id"),
])
def test_missing_id_is_400(api, path, body, field):
    assert_error(api.post(f"crmobject/{path}", body), 400, "required", mentions=field)


def test_update_cannot_blank_a_required_field(api):
    crm_id = api.create("person", person())
    assert_error(api.post("crmobject/person/update", {"crmId": crm_id, "crmObjectTypeCode": ""}), 400, "required")


def test_duplicate_customer_number_is_400_on_create_and_update(api):
    first = person()
    api.create("person", first)
    other_id = api.create("organization", organization())

    assert_error(api.post("crmobject/organization/create", organization(customerNumber=first["customerNumber"])),
                 400, "duplicate_customer_number", mentions="customerNumber")
    assert_error(api.post("crmobject/organization/update",
                          {"crmId": other_id, "customerNumber": first["customerNumber"]}),
                 400, "duplicate_customer_number")
    assert api.get("organization", other_id)["customerNumber"] != first["customerNumber"]


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[1, 2]", b'"text"', b'{"balance": NaN}'])
def test_body_that_is_not_a_json_object_is_400(pg, api, raw):
    response = requests.post(f"{pg.base_url}/api/v2/crmobject/person/create", data=raw, timeout=10,
                             headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"})
    assert_error(response, 400)


def test_unknown_find_operator_is_400(api):
    body = {"queries": [{"field": "RefId", "operator": 99, "value": "x"}]}
    assert_error(api.post("crmobject/person/find", body), 400, "invalid_operator", mentions="operator")


def test_unknown_keys_are_ignored_like_aspnet(api):
    crm_id = api.create("person", person(notAField="x"))
    assert "notAField" not in api.get("person", crm_id)


def test_concurrent_creates_with_one_customer_number_make_one_record(api):
    body = person()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(lambda _: api.post("crmobject/person/create", body).status_code, range(8)))

    assert statuses == [200] + [400] * 7
    assert api.find("person", ("CustomerNumber", 0, body["customerNumber"]))["total"] == 1
