"""Tests for hamgam.transform.codes: Iranian identifier checksums, generators and masking."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hamgam.transform.codes import (
    is_valid_economic_code,
    is_valid_national_code,
    is_valid_national_id,
    is_valid_postal_code,
    make_national_code,
    make_national_id,
    mask,
)

PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
SAMAN = str.maketrans("0123456789", "\u00b9\u00b1\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030")

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


def reference_national_code(code: str) -> bool:
    """The rule as the brief states it, for exactly 10 ASCII digits."""
    check = int(code[9])
    r = sum(int(code[i]) * (10 - i) for i in range(9)) % 11
    return (
        len(set(code)) > 1
        and code[3:9] != "000000"
        and ((r < 2 and check == r) or (r >= 2 and check == 11 - r))
    )


# --- national code ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["0076229645", "1583250689", "0011537027"])
def test_known_valid_national_codes(code):
    assert is_valid_national_code(code)


@pytest.mark.parametrize(
    "code",
    [
        "0076229645".translate(PERSIAN),
        "1583250689".translate(SAMAN),
        "007-622964-5",
        " 158 325 0689 ",
        "\u200f0076229645\u200f",
        1583250689,
    ],
)
def test_national_code_is_normalised_first(code):
    assert is_valid_national_code(code)


def test_eight_and_nine_digit_codes_are_padded_with_zeros():
    assert is_valid_national_code("11537027")  # == 0011537027
    assert is_valid_national_code("76229645")  # == 0076229645
    assert is_valid_national_code(76229645)  # a number column lost the zeros
    assert is_valid_national_code("076229645")
    assert not is_valid_national_code("6229645")  # 7 digits are never padded


@pytest.mark.parametrize(
    "code",
    [
        "0076229646",  # wrong check digit
        "1111111111",  # passes the checksum, but one repeated digit
        "0000000000",
        "1230000003",  # passes the checksum, but the middle six digits are zero
        "00762296450",  # 11 digits
        "007622964a",
        "",
        None,
        float("nan"),
    ],
)
def test_invalid_national_codes(code):
    assert not is_valid_national_code(code)


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_national_code_matches_the_stated_rule(code):
    assert is_valid_national_code(code) == reference_national_code(code)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9), st.integers(1, 9))
def test_made_national_codes_are_valid_and_only_their_check_digit_fits(prefix, shift):
    try:
        code = make_national_code(prefix)
    except ValueError:
        assume(False)
    assert code.startswith(prefix) and len(code) == 10
    assert is_valid_national_code(code)
    wrong = prefix + str((int(code[9]) + shift) % 10)
    assert not is_valid_national_code(wrong)


def test_make_national_code_rejects_bad_prefixes():
    assert make_national_code("۰۰۷۶۲۲۹۶۴") == "0076229645"
    for bad in ["12345678", "1234567890", "12345678a", "111111111", "123000000"]:
        with pytest.raises(ValueError):
            make_national_code(bad)


# --- legal-entity national id -----------------------------------------------------------------------


def test_known_valid_national_id():
    assert is_valid_national_id("10380284790")
    assert is_valid_national_id("۱۰۳۸۰۲۸۴۷۹۰")
    assert is_valid_national_id("103-8028479-0")


@pytest.mark.parametrize(
    "code",
    [
        "10380284791",  # wrong check digit
        "12300000011",  # passes the checksum, but digits 4-9 are zero
        "1038028479",  # 10 digits: never padded
        "010380284790",
        "11111111111",
        "",
        None,
    ],
)
def test_invalid_national_ids(code):
    assert not is_valid_national_id(code)


@given(st.text(alphabet="0123456789", min_size=10, max_size=10), st.integers(1, 9))
def test_made_national_ids_are_valid_and_only_their_check_digit_fits(prefix, shift):
    try:
        code = make_national_id(prefix)
    except ValueError:
        assume(False)
    assert code.startswith(prefix) and len(code) == 11
    assert is_valid_national_id(code)
    assert not is_valid_national_id(prefix + str((int(code[10]) + shift) % 10))


def test_make_national_id_examples_and_errors():
    assert make_national_id("1038028479") == "10380284790"
    for bad in ["103802847", "10380284790", "1230000001"]:
        with pytest.raises(ValueError):
            make_national_id(bad)


# --- postal and economic codes ----------------------------------------------------------------------


def test_postal_code_default_rule_is_ten_digits_not_all_same():
    assert is_valid_postal_code("1193653471")
    assert is_valid_postal_code("۱۱۹۳۶-۵۳۴۷۱")
    assert is_valid_postal_code("1234567890")  # fine for Tadbir's rule
    assert not is_valid_postal_code("119365347")
    assert not is_valid_postal_code("11936534710")
    assert not is_valid_postal_code("1111111111")
    assert not is_valid_postal_code(None)


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("1193653471", True),
        ("1234567890", False),  # 2 and 0 in the first five digits
        ("1193553471", False),  # 5 in the fifth digit
        ("1193613472", False),  # 2 in the last five
        ("1111653471", False),  # first four digits the same
        ("3319613470", True),
    ],
)
def test_postal_code_strict_rule(code, ok):
    assert is_valid_postal_code(code, strict=True) is ok


def test_economic_code():
    assert is_valid_economic_code("411111111119")
    assert is_valid_economic_code("۴۱۱-۱۱۱-۱۱۱-۱۱۹")
    assert is_valid_economic_code("0076229645")  # a person's national code
    assert is_valid_economic_code("10380284790")  # a legal entity's national id
    assert not is_valid_economic_code("0076229646")
    assert not is_valid_economic_code("10380284791")
    assert not is_valid_economic_code("111111111111")
    assert not is_valid_economic_code("76229645")  # no padding for economic codes
    assert not is_valid_economic_code("4111111111190")
    assert not is_valid_economic_code(None)


# --- masking ----------------------------------------------------------------------------------------


def test_mask_examples():
    assert mask("0012345655") == "********55"
    assert mask("۰۹۱۲۱۲۳۴۵۶۷") == "*********67"
    assert mask("0076-229645", keep=3) == "*******645"
    assert mask("0012345655", keep=0) == "**********"
    assert mask("09121234567", keep=4) == "*******4567"
    assert mask("12") == "*2"  # at most half is ever shown
    assert mask("1") == "*"
    assert mask("12345", keep=4) == "***45"
    assert mask(None) == ""
    with pytest.raises(ValueError):
        mask("123", keep=-1)


@given(st.text(alphabet="0123456789۰۱۲۳۴۵۶۷۸۹ -", max_size=20), st.integers(0, 6))
def test_mask_never_shows_more_than_half(value, keep):
    from hamgam.transform.text import normalize_code

    clean = normalize_code(value)
    out = mask(value, keep)
    shown = len(out.lstrip("*"))
    assert len(out) == len(clean)
    assert shown == min(keep, len(clean) // 2)
    assert out.endswith(clean[len(clean) - shown :]) if shown else set(out) <= {"*"}
