"""Tests for hamgam.transform.text: Saman digits, Arabic letters, name and code normalisation."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hamgam.transform.text import (
    SAMAN_DIGITS,
    normalize_code,
    normalize_code_series,
    normalize_letters,
    normalize_name,
    normalize_name_series,
    to_ascii_digits,
)

SAMAN_NEW = (
    "\u00b9\u00b1\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030"  # 0..9 as FromTadbirText reads them
)
SAMAN_OLD = "".join(chr(0x80 + d) for d in range(10))
PERSIAN = "۰۱۲۳۴۵۶۷۸۹"
ARABIC_INDIC = "٠١٢٣٤٥٦٧٨٩"
ZWNJ, ZWJ = "\u200c", "\u200d"


# --- tables and digits ------------------------------------------------------------------------------


def test_saman_map_is_exactly_the_documented_twenty_code_points():
    assert dict(SAMAN_DIGITS) == {
        **{c: str(d) for d, c in enumerate(SAMAN_NEW)},
        **{c: str(d) for d, c in enumerate(SAMAN_OLD)},
    }
    with pytest.raises(TypeError):
        SAMAN_DIGITS["x"] = "1"  # type: ignore[index]


@pytest.mark.parametrize("digits", [SAMAN_NEW, SAMAN_OLD, PERSIAN, ARABIC_INDIC, "0123456789"])
def test_to_ascii_digits_every_digit_form(digits):
    assert to_ascii_digits(digits) == "0123456789"


def test_to_ascii_digits_leaves_everything_else():
    assert to_ascii_digits("كد: ۱۲a\u00b9 - ي") == "كد: 12a0 - ي"
    assert to_ascii_digits(None) == ""
    assert to_ascii_digits(float("nan")) == ""


def test_normalize_letters():
    assert normalize_letters("\u0643\u064a\u0649") == "\u06a9\u06cc\u06cc"
    assert normalize_letters("علي كريمى") == "علی کریمی"
    assert normalize_letters("\u00b3\u00b2") == "اآ"
    assert normalize_letters("۱۲ \u00b9") == "۱۲ \u00b9"  # digits untouched
    assert normalize_letters(None) == ""


# --- names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  علي   كريمي  ", "علی کریمی"),
        ("شركت\tبازرگاني\n\u00a0 \u2009پارس", "شرکت بازرگانی پارس"),
        ("فروشگاه \u201a\u00b9", "فروشگاه 20"),  # Saman digits are garbage glyphs → ASCII
        ("شعبه ۱۲", "شعبه ۱۲"),  # Persian digits stay readable
        ("شعبه ١٢", "شعبه ۱۲"),  # Arabic-Indic → Persian forms
        ("شعبه 12", "شعبه 12"),
        ("خانه" + ZWNJ + "ها", "خانه" + ZWNJ + "ها"),  # ZWNJ inside a word is part of it
        ("می" + ZWNJ + ZWNJ + ZWJ + "روم", "می" + ZWNJ + "روم"),  # a run → its first joiner
        (ZWNJ + "علی" + ZWNJ, "علی"),  # joiners at the ends join nothing
        ("علی" + ZWNJ + " " + ZWNJ + "رضا", "علی رضا"),  # nor next to a space
        ("\u200fعلی\u200e \u202bرضا\u202c\ufeff\u200b", "علی رضا"),  # bidi marks, BOM, ZWSP
        ("\u00b3حمد \u00b2قا", "احمد آقا"),
        ("a\u0085b", "a5b"),  # U+0085 is an old Saman 5 before it is whitespace
        ("   ", ""),
        ("", ""),
    ],
)
def test_normalize_name(raw, expected):
    assert normalize_name(raw) == expected


@pytest.mark.parametrize("missing", [None, float("nan"), pd.NA, pd.NaT])
def test_missing_values_become_empty(missing):
    assert normalize_name(missing) == ""
    assert normalize_code(missing) == ""


# --- codes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("۰۰۱-۲۳۴ ۵۶۷.۸/۹", "00123456789"),
        (" \u00b9\u00b9\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030 ", "0023456789"),
        ("٠٠١\u2013٢\u2014٣\u2212٤\\٥\u066b٦", "00123456"),
        ("12\u200c34\u200f56\u00ad78\u200b\ufeff", "12345678"),
        ("\t12\n34\u00a0", "1234"),
        ("ك-ي/ى", "کیی"),
        ("A-100", "A100"),  # Latin case kept
        (12345, "12345"),
        (12345.0, "12345"),  # integral floats from numeric columns lose the ".0"
        (12.5, "125"),
        ("a\u0085b", "a5b"),
    ],
)
def test_normalize_code(raw, expected):
    assert normalize_code(raw) == expected


# --- scalar ⇄ vectorised equivalence ---------------------------------------------------------------

ALPHABET = (
    "ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهیآئءةك"
    + "\u064a\u0649\u00b3\u00b2"
    + SAMAN_NEW
    + SAMAN_OLD
    + PERSIAN
    + ARABIC_INDIC
    + "0123456789aZ"
    + " \t\n\r\u00a0\u2009\u3000\u2028"
    + ZWNJ
    + ZWJ
    + "\u200b\u200e\u200f\u202b\u202c\ufeff\u00ad"
    + "-\u2013./\\\u066b()،,"
)
texts = st.text(alphabet=ALPHABET, max_size=30)
cells = st.one_of(texts, st.none(), st.just(float("nan")))


@given(st.lists(cells, max_size=20))
def test_series_twins_equal_scalar_versions(values):
    series = pd.Series(values, dtype=object, index=range(100, 100 + len(values)), name="col")
    names = normalize_name_series(series)
    codes = normalize_code_series(series)
    assert names.tolist() == [normalize_name(v) for v in values]
    assert codes.tolist() == [normalize_code(v) for v in values]
    for out in (names, codes):
        assert out.index.equals(series.index)
        assert out.name == "col"


@given(st.lists(texts, max_size=10))
def test_series_twins_accept_pandas_string_dtype(values):
    series = pd.Series(values + [None], dtype="str")
    assert normalize_name_series(series).tolist() == [normalize_name(v) for v in values] + [""]
    assert normalize_code_series(series).tolist() == [normalize_code(v) for v in values] + [""]


def test_series_twins_on_numeric_and_empty_columns():
    floats = pd.Series([12345.0, math.nan, 7.0])
    assert normalize_code_series(floats).tolist() == ["12345", "", "7"]
    assert normalize_code_series(pd.Series([1, 20], dtype="int64")).tolist() == ["1", "20"]
    assert normalize_name_series(pd.Series([], dtype=object)).tolist() == []
    assert normalize_name_series(pd.Series([None, None])).tolist() == ["", ""]


@given(cells)
def test_normalisation_is_idempotent_and_clean(value):
    name = normalize_name(value)
    assert normalize_name(name) == name
    assert name == name.strip() and "  " not in name
    assert not any(c.isspace() and c != " " for c in name)
    assert not set(name) & set(SAMAN_NEW + SAMAN_OLD + ARABIC_INDIC + "\u0643\u064a\u0649\u200f\ufeff")
    assert not name.startswith((ZWNJ, ZWJ)) and not name.endswith((ZWNJ, ZWJ))

    code = normalize_code(value)
    assert normalize_code(code) == code
    assert not set(code) & set(" -./\\" + ZWNJ + ZWJ + PERSIAN + ARABIC_INDIC + SAMAN_NEW)
    assert not any(c.isspace() for c in code)
