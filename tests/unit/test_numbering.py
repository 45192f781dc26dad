"""Tests for hamgam.transform.numbering: Payamgostar numbering templates."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hamgam.transform.numbering import (
    NumberMismatch,
    Template,
    TemplateError,
    Token,
    fiscal_year_of,
)

IDENTITY = "{companyCode}-{*(AN)}"
QUOTE = "{companyCode}-{____(SHYY)}/{*(AN)}"
RECEIPT = "{companyCode}-{____(SHYY)}/{*(FP:6)}-{*(AN)}"


# --- vendor examples --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "values", "number"),
    [
        (IDENTITY, {"company_code": "100", "AN": 10255}, "100-10255"),
        (QUOTE, {"company_code": "100", "SHYY": 1403, "AN": 123}, "100-1403/123"),
        (RECEIPT, {"company_code": "100", "SHYY": 1403, "FP": 6, "AN": 5}, "100-1403/6-5"),
        (RECEIPT, {"company_code": "250", "SHYY": 1402, "FP": 17, "AN": 88}, "250-1402/17-88"),
        ("100-{*(AN)}", {"AN": 10255}, "100-10255"),  # the vendor's literal company code
        ("100-{____(SHYY)}/{*(AN)}", {"SHYY": 1403, "AN": 123}, "100-1403/123"),
        ("INV{___(AN)}", {"AN": 7}, "INV007"),
        ("{__(SHYY)}{*(AN)}", {"SHYY": 1403, "AN": 12}, "0312"),
        ("{____(MIYY)}-{*(AN)}", {"MIYY": 2024, "AN": 1}, "2024-1"),
        ("{__(MIYY)}.{_____(AN)}", {"MIYY": 2024, "AN": 42}, "24.00042"),
    ],
)
def test_vendor_examples_format_and_parse(template, values, number):
    tpl = Template.parse(template)
    assert tpl.format(**values) == number
    assert tpl.parse_number(number) == values


def test_custom_parameter_default_and_override():
    tpl = Template.parse(RECEIPT)
    assert tpl.format(company_code=100, SHYY=1403, AN=123) == "100-1403/6-123"
    assert tpl.format(company_code=100, SHYY=1403, AN=123, FP=9) == "100-1403/9-123"
    assert tpl.parse_number("100-1403/6-123") == {"company_code": "100", "SHYY": 1403, "FP": 6, "AN": 123}


def test_format_accepts_digit_strings_and_ignores_values_the_template_lacks():
    tpl = Template.parse(IDENTITY)
    assert tpl.format(company_code="۱۰۰", AN="10255", SHYY=1403, FP=3) == "100-10255"
    assert Template.parse("{*(AN)}").format(AN=0) == "0"


def test_unlimited_tokens_keep_leading_zeros_of_digit_strings():
    tpl = Template.parse(IDENTITY)
    number = tpl.format(company_code=100, AN="00123")
    assert number == "100-00123"
    assert tpl.parse_number(number) == {"company_code": "100", "AN": 123}
    assert tpl.parse_number(number, as_text=True) == {"company_code": "100", "AN": "00123"}
    fixed = Template.parse("{__(SHYY)}/{_____(AN)}")
    assert fixed.format(SHYY="1403", AN="00000123") == "03/00123"  # fixed widths re-pad the value
    assert fixed.parse_number("03/00123", as_text=True) == {"SHYY": "03", "AN": "00123"}


def test_parse_number_normalises_digits_and_whitespace():
    tpl = Template.parse(QUOTE)
    assert tpl.parse_number(" ۱۰۰-۱۴۰۳/۱۲۳ ") == {"company_code": "100", "SHYY": 1403, "AN": 123}
    assert tpl.parse_number("007-1403/0123") == {"company_code": "007", "SHYY": 1403, "AN": 123}


def test_two_digit_years_expand_to_a_fixed_window():
    shyy = Template.parse("{__(SHYY)}/{*(AN)}")
    assert shyy.parse_number("03/1")["SHYY"] == 1403
    assert shyy.parse_number("49/1")["SHYY"] == 1449
    assert shyy.parse_number("50/1")["SHYY"] == 1350
    assert shyy.format(SHYY=1399, AN=1) == "99/1"
    miyy = Template.parse("{__(MIYY)}/{*(AN)}")
    assert miyy.parse_number("68/1")["MIYY"] == 2068
    assert miyy.parse_number("69/1")["MIYY"] == 1969


# --- format errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "values", "message"),
    [
        ("{___(AN)}", {"AN": 1000}, "does not fit 3 digits"),
        ("{____(SHYY)}-{*(AN)}", {"SHYY": 14030, "AN": 1}, "does not fit 4 digits"),
        ("{___(SHYY)}-{*(AN)}", {"SHYY": 1403, "AN": 1}, "does not fit 3 digits"),  # only width 2 truncates
        ("{*(AN)}", {}, "no value for AN"),
        (QUOTE, {"SHYY": 1403, "AN": 1}, "no value for company_code"),
        ("{*(AN)}", {"AN": -1}, "not a non-negative whole number"),
        ("{*(AN)}", {"AN": "12a"}, "not a non-negative whole number"),
        (IDENTITY, {"company_code": "A1", "AN": 1}, "not a non-negative whole number"),
    ],
)
def test_format_errors(template, values, message):
    with pytest.raises(TemplateError, match=message):
        Template.parse(template).format(**values)


# --- malformed templates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{___(AN)", "unbalanced braces"),
        ("___(AN)}", "unbalanced braces"),
        ("{{*(AN)}}", "unbalanced braces"),
        ("{*(AN)}-}", "unbalanced braces"),
        ("{AN}", "unknown token"),
        ("{*(XYZ)}", "unknown token"),
        ("{companycode}-{*(AN)}", "unknown token"),
        ("{ *(AN)}", "invalid width"),
        ("{_*(AN)}", "invalid width"),
        ("{(AN)}", "empty width"),
        ("{*(AN)}-{___(AN)}", "duplicate token AN"),
        ("{companyCode}-{companyCode}-{*(AN)}", "duplicate token company_code"),
        ("{*(AN:5)}", "AN takes no default"),
        ("{*(FP:x)}-{*(AN)}", "default of FP must be digits"),
        ("{*(FP:)}-{*(AN)}", "default of FP must be digits"),
        ("{_(FP:12)}-{*(AN)}", "does not fit 1 digits"),
        ("{companyCode}{*(AN)}", "ambiguous"),
        ("{*(SHYY)}0{*(AN)}", "ambiguous"),
        ("{*(SHYY)}{__(FP:1)}{*(AN)}", "ambiguous"),
    ],
)
def test_malformed_templates(template, message):
    with pytest.raises(TemplateError, match=message):
        Template.parse(template)


def test_unambiguous_neighbours_are_allowed():
    # one unlimited token per run of digits is fine: fixed widths take their exact count
    tpl = Template.parse("{*(AN)}{__(SHYY)}")
    assert tpl.parse_number("12303") == {"AN": 123, "SHYY": 1403}
    assert Template.parse("{companyCode}x{*(AN)}").parse_number("7x9") == {"company_code": "7", "AN": 9}


def test_template_structure():
    tpl = Template.parse(RECEIPT)
    assert tpl.text == str(tpl) == RECEIPT
    assert tpl.names == ("company_code", "SHYY", "FP", "AN")
    assert tpl.tokens[2] == Token("FP", None, 6)
    assert tpl.tokens[1] == Token("SHYY", 4)
    assert tpl.parts[1] == "-"
    assert Template.parse(RECEIPT) == tpl


# --- numbers that do not fit ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "100-1403-123",
        "100-140/123",
        "100-14030/123",
        "100-1403/",
        "100-1403/12a",
        "x100-1403/123",
        "100-1403/123x",
        "",
        "100–1403/123",
    ],
)
def test_number_mismatch(number):
    tpl = Template.parse(QUOTE)
    with pytest.raises(NumberMismatch) as err:
        tpl.parse_number(number)
    assert err.value.number == number
    assert err.value.template is tpl
    assert QUOTE in str(err.value)
    assert isinstance(err.value, ValueError)


def test_fiscal_year_of():
    assert fiscal_year_of("100-1403/123", QUOTE) == 1403
    assert fiscal_year_of("250-1402/6-9", Template.parse(RECEIPT)) == 1402
    assert fiscal_year_of("02/17", "{__(SHYY)}/{*(AN)}") == 1402
    with pytest.raises(TemplateError, match="no \\(SHYY\\)"):
        fiscal_year_of("100-10255", IDENTITY)
    with pytest.raises(NumberMismatch):
        fiscal_year_of("100-10255", QUOTE)


# --- property: parse_number(format(values)) == values for random templates --------------------------

NAMES = ["company_code", "AN", "SHYY", "MIYY", "FP", "K2"]
literals = st.text(alphabet="-/._ Ax0", max_size=3)


@st.composite
def templates_and_values(draw):
    """(template text, keyword arguments for format, expected parse_number result)."""
    names = draw(st.permutations(NAMES).map(lambda p: p[: draw(st.integers(1, len(NAMES)))]))
    text, kwargs, expected = draw(literals), {}, {}
    for name in names:
        if name == "company_code":
            text += "{companyCode}"
            kwargs[name] = expected[name] = draw(st.from_regex(r"[0-9]{1,5}", fullmatch=True))
            text += draw(literals)
            continue
        width = draw(st.one_of(st.none(), st.integers(1, 6)))
        values = st.integers(0, 10**12 if width is None else 10**width - 1)
        if name in ("SHYY", "MIYY") and width == 2:
            lo = 1350 if name == "SHYY" else 1969
            values = st.integers(lo, lo + 99)
        spec = "*" if width is None else "_" * width
        if name in ("FP", "K2"):
            default = draw(values)
            spec += f"({name}:{default})"
            if draw(st.booleans()):  # left out: format uses the default
                expected[name] = default
            else:
                kwargs[name] = expected[name] = draw(values)
        else:
            spec += f"({name})"
            kwargs[name] = expected[name] = draw(values)
        text += "{" + spec + "}" + draw(literals)
    return text, kwargs, expected


@given(templates_and_values())
def test_round_trip_for_random_templates(case):
    text, kwargs, expected = case
    try:
        tpl = Template.parse(text)
    except TemplateError as err:
        assert "ambiguous" in str(err)
        assume(False)
    number = tpl.format(**kwargs)
    assert "{" not in number and "}" not in number
    assert tpl.regex.fullmatch(number)
    assert tpl.parse_number(number) == expected
    assert tpl.format(**tpl.parse_number(number)) == number
    assert tpl.format(**tpl.parse_number(number, as_text=True)) == number
