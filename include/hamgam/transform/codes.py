"""Iranian identifier checks, test-code generators and log masking.

Every validator first runs :func:`hamgam.transform.text.normalize_code` (so Saman/Persian digits,
spaces, dashes, dots and slashes are tolerated) and then requires ASCII digits only. None of them
raise: anything unusable (``None``, NaN, letters, wrong length) is simply invalid.
"""

from __future__ import annotations

from hamgam.transform.text import normalize_code

__all__ = [
    "is_valid_economic_code",
    "is_valid_national_code",
    "is_valid_national_id",
    "is_valid_postal_code",
    "make_national_code",
    "make_national_id",
    "mask",
    "national_code_check_digit",
    "national_id_check_digit",
]

_LEGAL_ID_WEIGHTS = (29, 27, 23, 19, 17)


def _digits(code: object) -> str | None:
    """``normalize_code(code)`` when it is ASCII digits only, else ``None``."""
    s = normalize_code(code)
    return s if s.isascii() and s.isdigit() else None


def _all_same(s: str) -> bool:
    return len(set(s)) == 1


# --- person national code (کد ملی), 10 digits --------------------------------------------------------


def national_code_check_digit(prefix9: str) -> int:
    """Check digit of a national code from its first 9 ASCII digits."""
    r = sum(int(d) * (10 - i) for i, d in enumerate(prefix9)) % 11
    return r if r < 2 else 11 - r


def is_valid_national_code(code: object) -> bool:
    """True for a valid 10-digit person national code (کد ملی).

    Rules, after :func:`normalize_code`:

    * 8 or 9 digits are left-padded with zeros to 10, as Iranian software commonly does: the code is
      often stored as a number, which drops the leading zeros of codes such as ``0012345678``.
      Other lengths are invalid.
    * codes made of one repeated digit (``1111111111``) and codes whose middle six digits
      (positions 4-9) are all zero are invalid;
    * check digit: ``r = sum(digit[i] * (10 - i) for i in 0..8) % 11``; valid when ``digit[9] == r``
      for ``r < 2`` and ``digit[9] == 11 - r`` otherwise.
    """
    s = _digits(code)
    if s is None or not 8 <= len(s) <= 10:
        return False
    s = s.zfill(10)
    if _all_same(s) or s[3:9] == "000000":
        return False
    return int(s[9]) == national_code_check_digit(s[:9])


# --- legal-entity national id (شناسه ملی), 11 digits --------------------------------------------------


def national_id_check_digit(prefix10: str) -> int:
    """Check digit of a legal-entity national id from its first 10 ASCII digits."""
    d = int(prefix10[9]) + 2
    r = sum((int(c) + d) * _LEGAL_ID_WEIGHTS[i % 5] for i, c in enumerate(prefix10)) % 11
    return 0 if r == 10 else r


def is_valid_national_id(code: object) -> bool:
    """True for a valid 11-digit legal-entity national id (شناسه ملی).

    With ``d = digit[9] + 2``, ``s = sum((digit[i] + d) * w[i] for i in 0..9)`` where ``w`` cycles
    29, 27, 23, 19, 17; ``r = s % 11`` (10 → 0) must equal ``digit[10]``. Exactly 11 digits after
    :func:`normalize_code` (no padding); one-repeated-digit ids and ids whose digits 4-9 are all zero
    are invalid.
    """
    s = _digits(code)
    if s is None or len(s) != 11 or _all_same(s) or s[3:9] == "000000":
        return False
    return int(s[10]) == national_id_check_digit(s[:10])


# --- postal and economic codes -----------------------------------------------------------------------


def is_valid_postal_code(code: object, *, strict: bool = False) -> bool:
    """True for an Iranian postal code.

    Default rule (Tadbir's own: "PostalCode must be 10 digits"): exactly 10 digits after
    :func:`normalize_code`, not one repeated digit. No padding.

    ``strict=True`` adds the digit-set convention of Iran Post that community validators encode as
    ``^(?!(\\d)\\1{3})[13-9]{4}[1346-9][013-9]{5}$``: no 0 or 2 in the first five digits, no 5 in the
    fifth, no 2 anywhere, and the first four digits not all the same. It is a convention, not a
    checksum, so the default does not apply it.
    """
    s = _digits(code)
    if s is None or len(s) != 10 or _all_same(s):
        return False
    if not strict:
        return True
    return "2" not in s and "0" not in s[:5] and s[4] != "5" and not _all_same(s[:4])


def is_valid_economic_code(code: object) -> bool:
    """True for an economic code (کد اقتصادی).

    Accepted after :func:`normalize_code`: the 12-digit economic code of organizations (no public
    checksum, so any 12 digits that are not one repeated digit), a valid 10-digit national code
    (persons) or a valid 11-digit national id (legal entities), which the tax office also accepts as
    economic codes. No padding: a 8-9 digit value is not an economic code.
    """
    s = _digits(code)
    if s is None:
        return False
    if len(s) == 12:
        return not _all_same(s)
    if len(s) == 10:
        return is_valid_national_code(s)
    if len(s) == 11:
        return is_valid_national_id(s)
    return False


# --- generators for tests and demo data --------------------------------------------------------------


def make_national_code(prefix9: object) -> str:
    """The valid 10-digit national code that starts with the 9 digits ``prefix9``.

    Raises ``ValueError`` when ``prefix9`` is not 9 digits or no valid code has that prefix
    (one repeated digit, or digits 4-9 all zero).
    """
    p = _digits(prefix9)
    if p is None or len(p) != 9:
        raise ValueError(f"prefix9 must be 9 digits, got {len(normalize_code(prefix9))} characters")
    code = p + str(national_code_check_digit(p))
    if not is_valid_national_code(code):
        raise ValueError("no valid national code has this prefix")
    return code


def make_national_id(prefix10: object) -> str:
    """The valid 11-digit legal-entity national id that starts with the 10 digits ``prefix10``.

    Raises ``ValueError`` when ``prefix10`` is not 10 digits or no valid id has that prefix.
    """
    p = _digits(prefix10)
    if p is None or len(p) != 10:
        raise ValueError(f"prefix10 must be 10 digits, got {len(normalize_code(prefix10))} characters")
    code = p + str(national_id_check_digit(p))
    if not is_valid_national_id(code):
        raise ValueError("no valid national id has this prefix")
    return code


# --- masking for logs --------------------------------------------------------------------------------


def mask(value: object, keep: int = 2) -> str:
    """Mask a national code, phone number or similar for logs: ``"0012345655"`` → ``"********55"``.

    The value is normalised with :func:`normalize_code` first (so the visible tail is ASCII), then
    every character but the last ``min(keep, len // 2)`` becomes ``*``: at least half of any value is
    always hidden, so short values are never shown whole. The length is kept (it tells a 10-digit
    code from an 11-digit id). ``None``/NaN/empty → ``""``.
    """
    if keep < 0:
        raise ValueError("keep must be >= 0")
    s = normalize_code(value)
    shown = min(keep, len(s) // 2)
    return "*" * (len(s) - shown) + (s[len(s) - shown :] if shown else "")
