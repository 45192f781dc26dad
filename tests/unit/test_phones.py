"""Tests for hamgam.transform.phones: splitting Tadbir's phone fields and CRM phone contacts."""

from __future__ import annotations

import dataclasses

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hamgam.transform.phones import (
    FAX,
    LANDLINE,
    MOBILE,
    Phone,
    PhoneSplit,
    customer_phones,
    parse_phone,
    phones_of_customer,
    split_phones,
)

SAMAN = str.maketrans("0123456789", "\u00b9\u00b1\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030")
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def numbers_of(text, **kw):
    return [p.number for p in split_phones(text, **kw).phones]


# --- single numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "number", "kind"),
    [
        ("02188776655", "02188776655", "landline"),
        ("021 8877 6655", "02188776655", "landline"),
        ("021-88776655", "02188776655", "landline"),
        ("(021) 8877-6655", "02188776655", "landline"),
        ("+98 21 8877 6655", "02188776655", "landline"),
        ("03133445566", "03133445566", "landline"),
        ("09121234567", "09121234567", "mobile"),
        ("0912 123 4567", "09121234567", "mobile"),
        ("+98 912 123 4567", "09121234567", "mobile"),
        ("+989121234567", "09121234567", "mobile"),
        ("00989121234567", "09121234567", "mobile"),
        ("989121234567", "09121234567", "mobile"),
        ("9121234567", "09121234567", "mobile"),
        ("09121234567".translate(PERSIAN), "09121234567", "mobile"),
        ("02188776655".translate(SAMAN), "02188776655", "landline"),
        ("تلفن:02188776655", "02188776655", "landline"),
    ],
)
def test_one_number_in_many_spellings(raw, number, kind):
    result = split_phones(raw)
    assert result.invalid == []
    assert [(p.number, p.kind) for p in result.phones] == [(number, kind)]


def test_phone_is_frozen_and_keeps_raw_text():
    (phone,) = split_phones("  021 8877 6655  ").phones
    assert phone == Phone(number="02188776655", kind="landline", raw="021 8877 6655")
    with pytest.raises(dataclasses.FrozenInstanceError):
        phone.number = "x"  # type: ignore[misc]


def test_foreign_numbers_are_kept_in_e164():
    assert numbers_of("+1 650 253 0000") == ["+16502530000"]
    assert numbers_of("+44 20 7946 0958") == ["+442079460958"]


def test_parse_phone_returns_none_for_non_numbers():
    assert parse_phone("12345") is None
    assert parse_phone("abc") is None
    assert parse_phone("0912abc1234567") is None
    assert parse_phone("9" * 30) is None


# --- several numbers in one field -------------------------------------------------------------------


def test_hard_separators():
    text = "02188776655, 09121234567،02133445566;09351234567/02144556677\n09191234567؛02155667788|09361234567"
    assert numbers_of(text) == [
        "02188776655",
        "09121234567",
        "02133445566",
        "09351234567",
        "02144556677",
        "09191234567",
        "02155667788",
        "09361234567",
    ]


def test_space_separated_numbers_with_inner_spaces():
    result = split_phones("021 8877 6655 0912 123 4567  021-33445566")
    assert [(p.number, p.raw) for p in result.phones] == [
        ("02188776655", "021 8877 6655"),
        ("09121234567", "0912 123 4567"),
        ("02133445566", "021-33445566"),
    ]
    assert result.invalid == []


def test_invalid_pieces_are_reported_and_words_ignored():
    result = split_phones("12345, 021-88776655 داخلی 12 ، ندارد")
    assert numbers_of("12345, 021-88776655 داخلی 12 ، ندارد") == ["02188776655"]
    assert result.invalid == ["12345", "12"]
    assert split_phones("88776655").invalid == ["88776655"]


def test_area_code_completes_local_numbers():
    assert numbers_of("88776655 - 88776656", area_code="021") == ["02188776655", "02188776656"]
    assert numbers_of("09121234567", area_code="021") == ["09121234567"]  # not applied to full numbers


@pytest.mark.parametrize("empty", [None, "", "   ", float("nan"), " , ; "])
def test_empty_input(empty):
    assert split_phones(empty) == PhoneSplit(phones=[], invalid=[])


def _is_valid(number: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse(number, "IR"))


mobiles = st.builds(
    lambda p, n: f"09{p}{n:07d}",
    st.sampled_from(["12", "13", "19", "35", "36", "01"]),
    st.integers(0, 9_999_999),
)
landlines = st.builds(
    lambda a, n: f"0{a}{n}",
    st.sampled_from(["21", "31", "51", "71", "26"]),
    st.integers(20_000_000, 89_999_999),
).filter(_is_valid)


def _spellings(number: str) -> st.SearchStrategy[str]:
    """Ways users type one Iranian number: "0912 123 4567", "021 8877 6655", dashed, +98, other digits."""
    head = 4 if number.startswith("09") else 3
    return st.sampled_from(
        [
            number,
            f"{number[:head]} {number[head:7]} {number[7:]}",
            f"{number[:head]}-{number[head:]}",
            f"+98 {number[1:]}",
            number.translate(PERSIAN),
            number.translate(SAMAN),
        ]
    )


@given(
    st.lists(st.one_of(mobiles, landlines), min_size=1, max_size=5).flatmap(
        lambda nums: st.tuples(
            st.just(nums),
            st.tuples(*[_spellings(n) for n in nums]),
            st.lists(
                st.sampled_from([" ", ", ", "،", ";", " / ", "\n", "  "]),
                min_size=len(nums),
                max_size=len(nums),
            ),
        )
    )
)
def test_split_recovers_every_number_in_order(case):
    nums, spelled, seps = case
    text = "".join(s + sep for s, sep in zip(spelled, seps, strict=True))
    result = split_phones(text)
    assert result.invalid == []
    assert [p.number for p in result.phones] == nums
    assert [p.kind for p in result.phones] == ["mobile" if n.startswith("09") else "landline" for n in nums]


# --- CRM phone contacts -----------------------------------------------------------------------------


def test_phones_of_customer_types_dedupes_and_defaults():
    contacts = phones_of_customer("021-88776655 / 0912 123 4567", "۰۹۱۲۱۲۳۴۵۶۷", "02188776655")
    assert contacts == [
        {"phoneType": LANDLINE, "phoneNumber": "02188776655", "default": False},
        {"phoneType": MOBILE, "phoneNumber": "09121234567", "default": True},
        {"phoneType": FAX, "phoneNumber": "02188776655", "default": False},
    ]


def test_phones_of_customer_default_falls_back_to_landline_then_fax():
    assert phones_of_customer("02188776655, 02133445566", None, "02144556677") == [
        {"phoneType": LANDLINE, "phoneNumber": "02188776655", "default": True},
        {"phoneType": LANDLINE, "phoneNumber": "02133445566", "default": False},
        {"phoneType": FAX, "phoneNumber": "02144556677", "default": False},
    ]
    assert phones_of_customer("", "", "09121234567 02144556677") == [
        {"phoneType": FAX, "phoneNumber": "09121234567", "default": True},
        {"phoneType": FAX, "phoneNumber": "02144556677", "default": False},
    ]
    assert phones_of_customer(None, None, None) == []


def test_phones_of_customer_mobile_typed_into_phone_field_and_invalid_dropped():
    assert phones_of_customer("12345 09351234567", "02188776655", None) == [
        {"phoneType": MOBILE, "phoneNumber": "09351234567", "default": True},
        {"phoneType": LANDLINE, "phoneNumber": "02188776655", "default": False},
    ]
    assert phones_of_customer("88776655", None, None, area_code="021") == [
        {"phoneType": LANDLINE, "phoneNumber": "02188776655", "default": True},
    ]


@given(
    st.lists(st.one_of(mobiles, landlines), max_size=4),
    st.lists(st.one_of(mobiles, landlines), max_size=2),
    st.lists(landlines, max_size=2),
)
def test_phones_of_customer_properties(phone, mobile, fax):
    contacts = phones_of_customer(" ".join(phone), ",".join(mobile), "/".join(fax))
    keys = [(c["phoneType"], c["phoneNumber"]) for c in contacts]
    assert len(keys) == len(set(keys))
    assert sum(c["default"] for c in contacts) == (1 if contacts else 0)
    assert {c["phoneNumber"] for c in contacts} == set(phone + mobile + fax)
    assert contacts == phones_of_customer(" ".join(phone), ",".join(mobile), "/".join(fax))


def test_customer_phones_gives_the_contacts_and_every_field_s_invalid_pieces_from_one_split():
    phone, mobile, fax = "12345, 021-88776655", "0912 123 4567 ندارد 99", "021-33445566"
    contacts, invalid = customer_phones(phone, mobile, fax)
    assert contacts == phones_of_customer(phone, mobile, fax)
    assert invalid == ["12345", "99"]
    assert customer_phones(None, None, None) == ([], [])
