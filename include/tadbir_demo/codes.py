"""Iranian identification codes, phone numbers and the digit encodings found in Tadbir data.

Generators take a ``random.Random`` so output is deterministic. The validators implement the
public checksum algorithms (national code: 10 digits, mod 11; legal-entity national id: 11 digits).
"""

from __future__ import annotations

import random

from hamgam.transform.codes import is_valid_national_code, national_code_check_digit, national_id_check_digit

ASCII_DIGITS = "0123456789"
PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"  # U+06F0..U+06F9, what the Android client sends
# Tadbir's "Saman font" digits as stored by the desktop client (reference section 3):
SAMAN_DIGITS = "\u00b9\u00b1\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030"

_TO_PERSIAN = str.maketrans(ASCII_DIGITS, PERSIAN_DIGITS)
_TO_SAMAN = str.maketrans(ASCII_DIGITS, SAMAN_DIGITS)

ARABIC_YEH, PERSIAN_YEH = "\u064a", "\u06cc"
ARABIC_KAF, PERSIAN_KAF = "\u0643", "\u06a9"
_TO_ARABIC_LETTERS = str.maketrans({PERSIAN_YEH: ARABIC_YEH, PERSIAN_KAF: ARABIC_KAF})

MOBILE_PREFIXES = (
    "0912", "0912", "0912", "0913", "0914", "0915", "0916", "0917", "0918", "0919",
    "0935", "0936", "0937", "0938", "0939", "0901", "0902", "0910", "0990", "0921",
)
EMAIL_DOMAINS = ("gmail.com", "gmail.com", "yahoo.com", "chmail.ir", "outlook.com")


def to_persian_digits(text: str) -> str:
    return text.translate(_TO_PERSIAN)


def to_saman_digits(text: str) -> str:
    return text.translate(_TO_SAMAN)


def to_arabic_letters(text: str) -> str:
    """Persian ی/ک → Arabic ي/ك, as older Tadbir installations store them."""
    return text.translate(_TO_ARABIC_LETTERS)


def _digits(rng: random.Random, n: int, alphabet: str = ASCII_DIGITS) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


# -- national code (persons, 10 digits) ----------------------------------------------------------


def national_code(rng: random.Random) -> str:
    while True:
        first9 = _digits(rng, 9)
        code = first9 + str(national_code_check_digit(first9))
        if is_valid_national_code(code):
            return code


def invalidate_national_code(code: str, rng: random.Random) -> str:
    """Same first nine digits, a wrong check digit."""
    good = int(code[9])
    bad = (good + rng.randint(1, 9)) % 10
    return code[:9] + str(bad)


# -- legal-entity national id (organizations, 11 digits) -----------------------------------------

def legal_id(rng: random.Random) -> str:
    first10 = "10" + _digits(rng, 1, "1234568") + _digits(rng, 7, "123456789")
    return first10 + str(national_id_check_digit(first10))


# -- other codes ---------------------------------------------------------------------------------


def economic_code(rng: random.Random) -> str:
    """A 12-digit (pre-Moaddian) economic code."""
    return "411" + _digits(rng, 1, "123456789") + _digits(rng, 8)


def postal_code(rng: random.Random) -> str:
    """10 digits; the first five avoid 0 and 2 like real Iranian postal codes."""
    return _digits(rng, 4, "13456789") + _digits(rng, 1, "134679") + _digits(rng, 5, "013456789")


def landline(rng: random.Random, area_code: str) -> str:
    return f"{area_code}-{rng.choice('2345678')}{_digits(rng, 7)}"


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + _digits(rng, 7)


def person_email(rng: random.Random, first_latin: str, last_latin: str) -> str:
    sep = rng.choice((".", "_", ""))
    suffix = str(rng.randint(1, 99)) if rng.random() < 0.5 else ""
    return f"{first_latin}{sep}{last_latin}{suffix}@{rng.choice(EMAIL_DOMAINS)}"


def organization_email(rng: random.Random, slug: str) -> str:
    return f"{rng.choice(('info', 'sales', 'office'))}@{slug}.{rng.choice(('ir', 'ir', 'com'))}"


def ean13(rng: random.Random) -> str:
    """An EAN-13 with Iran's GS1 prefix 626 and a valid check digit."""
    body = "626" + _digits(rng, 9)
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)
