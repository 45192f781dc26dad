"""Field lengths: over the limit is named (never shown); free text is cut to its readable start and marked."""

from __future__ import annotations

from hamgam.config import parse_config
from hamgam.transform.limits import too_long, truncate

MARKER = " …[truncated]"


def test_text_that_fits_is_unchanged():
    assert truncate("کوتاه", 10, MARKER) == "کوتاه"
    assert truncate("x" * 10, 10, MARKER) == "x" * 10
    assert truncate(None, 10, MARKER) is None


def test_long_text_keeps_its_start_cut_at_a_word_and_ends_with_the_marker_inside_the_limit():
    text = "ارسال با باربری " * 100
    cut = truncate(text, 100, MARKER)
    assert len(cut) <= 100 and cut.endswith(MARKER)
    kept = cut.removesuffix(MARKER)
    assert text.startswith(kept) and text[len(kept)] == " "  # a whole word, no trailing space
    assert len(kept) >= (100 - len(MARKER)) * 0.8


def test_a_text_without_spaces_is_cut_mid_word_and_a_trailing_joiner_is_dropped():
    assert truncate("ب" * 50, 20, MARKER) == "ب" * 7 + MARKER
    assert truncate("می\u200cخواهم" * 10, 16, MARKER) == "می" + MARKER


def test_too_long_names_each_field_and_its_length_never_its_value():
    assert too_long([("Name", "ن" * 300, 250), ("City", "تهران", 100), ("Email", None, 254)]) == \
        "Name: 300 characters, at most 250"
    secret = "0012345679" * 6
    message = too_long([("RegisterCode", secret, 50), ("Address", "آ" * 501, 500)])
    assert message == "RegisterCode: 60 characters, at most 50; Address: 501 characters, at most 500"
    assert too_long([("Name", "ok", 250)]) is None


def test_the_limits_are_settings_with_conservative_defaults():
    config = parse_config("companies: [{code: 100}]")
    assert (config.limits.name, config.limits.code, config.limits.free_text) == (250, 50, 1000)
    assert parse_config("companies: [{code: 100}]\nlimits: {name: 80}").limits.name == 80
