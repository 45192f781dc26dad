"""Persian text normalisation for data read from legacy Tadbir.

Legacy Tadbir stores digits in the "Saman" font encoding (desktop client) or as Persian digits
(Android client), and Arabic kaf/yeh instead of the Persian letters (tadbir-schema.md, section 3).
This module turns such text into a canonical form:

* :func:`to_ascii_digits`  every known digit form → ASCII ``0-9``;
* :func:`normalize_letters` Arabic kaf/yeh/alef-maksura and Saman alef glyphs → Persian letters;
* :func:`normalize_name`   display text (names, titles, addresses);
* :func:`normalize_code`   identifiers compared as keys (customer, national, economic, postal codes).

and, for text written back into a legacy code-page column, :func:`to_tadbir_legacy_text` (the inverse).

The two ``normalize_*`` functions accept ``None``/NaN (→ ``""``) and have vectorised twins
(:func:`normalize_name_series`, :func:`normalize_code_series`) built on ``Series.str.translate`` and
``Series.str.replace`` that return exactly what the scalar versions return, element by element.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported where a Series is handled: DAG files import this module
    import pandas as pd

__all__ = [
    "SAMAN_DIGITS",
    "normalize_code",
    "normalize_code_series",
    "normalize_letters",
    "normalize_name",
    "normalize_name_series",
    "to_ascii_digits",
    "to_tadbir_legacy_text",
]

# --- character tables -------------------------------------------------------------------------------

#: Saman-font digit code points → ASCII digit: the "new version" set written by ``FromTadbirText``
#: (U+00B9, U+00B1, then the Windows-1252 glyphs of bytes 0x82-0x89) plus the older U+0080-U+0089.
SAMAN_DIGITS: Mapping[str, str] = MappingProxyType(
    {
        "\u00b9": "0",
        "\u00b1": "1",
        "\u201a": "2",
        "\u0192": "3",
        "\u201e": "4",
        "\u2026": "5",
        "\u2020": "6",
        "\u2021": "7",
        "\u02c6": "8",
        "\u2030": "9",
        **{chr(0x80 + d): str(d) for d in range(10)},
    }
)

PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"  # U+06F0-U+06F9
ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"  # U+0660-U+0669

_LETTERS = {
    "\u0643": "\u06a9",  # ك Arabic kaf → ک keheh
    "\u064a": "\u06cc",  # ي Arabic yeh → ی Farsi yeh
    "\u0649": "\u06cc",  # ى alef maksura → ی Farsi yeh
    "\u00b3": "\u0627",  # ³ Saman alef → ا
    "\u00b2": "\u0622",  # ² Saman alef madda → آ
}

ZWNJ = "\u200c"
ZWJ = "\u200d"

#: Every character ``str.isspace()`` (and regex ``\s``) accepts. U+0085 is also an old Saman digit 5,
#: and the digit meaning wins wherever both tables apply.
_WHITESPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())

#: Invisible formatting characters that are never meaningful in names or codes: zero-width space,
#: bidi marks and embeddings/isolates, word joiner, BOM, soft hyphen, Arabic letter mark, and C0
#: control characters that are not whitespace.
_INVISIBLE = (
    "\u00ad\u061c\u180e\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
    + "".join(chr(c) for c in range(0x20) if not chr(c).isspace())
    + "\u007f"
)

_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_DOTS = ".\u00b7\u06d4\u2024\uff0e"
_SLASHES = "/\\\u066b\u2044\u2215\uff0f"


def _table(*maps: Mapping[str, str | None]) -> dict[int, str | None]:
    """A ``str.translate`` table; later maps override earlier ones."""
    table: dict[int, str | None] = {}
    for m in maps:
        table.update({ord(k): v for k, v in m.items()})
    return table


_ALL_DIGITS = {
    **dict(SAMAN_DIGITS),
    **{p: str(d) for d, p in enumerate(PERSIAN_DIGITS)},
    **{a: str(d) for d, a in enumerate(ARABIC_INDIC_DIGITS)},
}

_DIGITS_TABLE = _table(_ALL_DIGITS)
_LETTERS_TABLE = _table(_LETTERS)

# Names: whitespace → " ", invisibles dropped, Saman digits → ASCII, Arabic-Indic digits → Persian
# digits (Persian ones stay), letters normalised.
_NAME_TABLE = _table(
    dict.fromkeys(_WHITESPACE, " "),
    dict.fromkeys(_INVISIBLE),
    {a: PERSIAN_DIGITS[d] for d, a in enumerate(ARABIC_INDIC_DIGITS)},
    SAMAN_DIGITS,
    _LETTERS,
)

# Codes: separators, whitespace, invisibles and joiners dropped; every digit → ASCII; letters normalised.
_CODE_TABLE = _table(
    dict.fromkeys(_WHITESPACE + _INVISIBLE + ZWNJ + ZWJ + _DASHES + _DOTS + _SLASHES),
    _ALL_DIGITS,
    _LETTERS,
)

# After _NAME_TABLE the only whitespace left is " ". A run of spaces and joiners that contains a space
# becomes one space (a joiner next to a space joins nothing); runs at either end go; a run of joiners
# inside a word keeps its first character.
_ZW = ZWNJ + ZWJ
_NAME_STEPS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(f"[ {_ZW}]* [ {_ZW}]*"), " "),
    (re.compile(f"^[ {_ZW}]+|[ {_ZW}]+\\Z"), ""),
    (re.compile(f"([{_ZW}])[{_ZW}]+"), r"\1"),
)


# --- input coercion ---------------------------------------------------------------------------------


def _text(value: object) -> str:
    """Coerce one cell to text: missing → ``""``; integral numbers without a trailing ``.0``."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        f = float(value)
        if math.isnan(f):
            return ""
        return str(int(f)) if f.is_integer() else str(f)
    try:
        import pandas as pd

        if pd.isna(value) is True:  # pd.NA, pd.NaT
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def _text_series(series: pd.Series) -> pd.Series:
    """Object-dtype Series of ``str`` with missing → ``""`` (text columns take a loop-free path).

    Working on object dtype keeps Python ``str``/``re`` semantics whatever the string storage is.
    """
    import pandas as pd

    if pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
        obj = series.astype(object)
        return obj.where(obj.notna(), "")
    # Numbers or mixed objects: coerce cell by cell (rare; the normalisation itself stays vectorised).
    return series.map(_text).astype(object)


# --- scalar API -------------------------------------------------------------------------------------


def to_ascii_digits(s: object) -> str:
    """Replace Saman (both sets), Persian and Arabic-Indic digits with ASCII digits.

    Nothing else changes; ``None``/NaN → ``""``.
    """
    return _text(s).translate(_DIGITS_TABLE)


def normalize_letters(s: object) -> str:
    """Arabic kaf → ک, Arabic yeh and alef maksura → ی, Saman ³ → ا and ² → آ. ``None``/NaN → ``""``."""
    return _text(s).translate(_LETTERS_TABLE)


def normalize_name(s: object) -> str:
    """Normalise display text (person/company names, titles, addresses).

    * letters normalised as :func:`normalize_letters`;
    * Saman digits (garbage glyphs) → ASCII; Persian digits kept; Arabic-Indic digits → the Persian digit
      of the same value (the Persian forms are the readable ones in Persian text);
    * ZWNJ/ZWJ kept inside words; dropped at either end or next to a space; a run of them → its first;
    * other invisible characters (bidi marks, ZWSP, BOM, soft hyphen, control characters) removed;
    * any Unicode whitespace → one ASCII space, trimmed at both ends;
    * ``None``/NaN → ``""``.
    """
    out = _text(s).translate(_NAME_TABLE)
    for pattern, repl in _NAME_STEPS:
        out = pattern.sub(repl, out)
    return out


def normalize_code(s: object) -> str:
    """Normalise an identifier compared as a key (customer, national, economic, postal code).

    Every digit form → ASCII, letters normalised, and whitespace, dashes, dots, slashes, ZWNJ/ZWJ and
    other invisible characters removed. Latin letter case is left alone. ``None``/NaN → ``""``;
    integral numbers are written without a decimal part (``12345.0`` → ``"12345"``).
    """
    return _text(s).translate(_CODE_TABLE)


#: Writing toward Tadbir (SPPC's ``TadbirEncoder``): every digit form → the "new version" Saman digit of
#: its value; Farsi keheh and yeh → the Arabic letters of code page 1256 (the letter direction is
#: inferred from the read side: tadbir-schema.md, section 3).
_SAMAN_OF = {str(d): s for s, d in SAMAN_DIGITS.items() if ord(s) > 0x89}  # the new set, not U+0080-0089
_LEGACY_TABLE = _table(
    {digit: _SAMAN_OF[value] for digit, value in {**_ALL_DIGITS, **{str(d): str(d) for d in range(10)}}.items()},
    {"\u06a9": "\u0643", "\u06cc": "\u064a"},
)


def to_tadbir_legacy_text(s: object) -> str:
    """Text as the Tadbir desktop client stores it in a code-page (VARCHAR) column: digits in the Saman
    set, ک → ك and ی → ي. Reading it back through :func:`normalize_name`/:func:`normalize_code` gives the
    text again (Persian digits come back as ASCII ones). ``None``/NaN → ``""``."""
    return _text(s).translate(_LEGACY_TABLE)


# --- vectorised twins -------------------------------------------------------------------------------


def normalize_name_series(series: pd.Series) -> pd.Series:
    """:func:`normalize_name` over a Series (same index and name; ``str`` dtype)."""
    out = _text_series(series).str.translate(_NAME_TABLE)
    for pattern, repl in _NAME_STEPS:
        out = out.str.replace(pattern, repl, regex=True)
    return out.astype("str")


def normalize_code_series(series: pd.Series) -> pd.Series:
    """:func:`normalize_code` over a Series (same index and name; ``str`` dtype)."""
    return _text_series(series).str.translate(_CODE_TABLE).astype("str")
