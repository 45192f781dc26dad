"""Split Tadbir's single phone fields into validated phone numbers for the CRM.

Tadbir keeps one ``PhoneNo``, one ``MobileNo`` and one ``FaxNo`` string per customer; users pack
several numbers into one field. :func:`split_phones` recovers them; :func:`phones_of_customer` builds
the CRM's phone-contact list.

Splitting (after :func:`hamgam.transform.text.to_ascii_digits` and removal of invisible marks):

1. hard separators split the text into parts: ``,`` ``،`` ``;`` ``؛`` ``/`` ``\\`` ``|`` and line breaks;
2. a part whose whole text (spaces, dashes, dots and parentheses removed) is a valid number is one phone
   (``"021 8877 6655"``, ``"+98 912 123 4567"``);
3. otherwise (or when the part contains letters) the part is split on whitespace and, from each token
   on, the longest run of tokens that joins into a valid number is taken
   (``"021 8877 6655 0912 123 4567"`` → two phones); a token that starts no valid run is reported in
   ``invalid``. Tokens without any digit are ignored: punctuation such as ``-`` may sit inside a run,
   a word (``تلفن``, ``داخلی``) ends it. A word glued to a number (``تلفن:02188776655``) is trimmed.

Validation is ``phonenumbers.is_valid_number`` with default region ``"IR"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import phonenumbers

from hamgam.transform.text import normalize_code, to_ascii_digits

__all__ = [
    "FAX",
    "LANDLINE",
    "MOBILE",
    "Phone",
    "PhoneSplit",
    "parse_phone",
    "phones_of_customer",
    "split_phones",
]

PhoneKind = Literal["mobile", "landline"]

#: CRM ``phoneType`` labels.
MOBILE = "موبایل"
LANDLINE = "تلفن"
FAX = "فکس"

_REGION = "IR"
_MAX_DIGITS = 17  # E.164 allows 15 digits; "00" + country code adds two
_HARD_SEPARATORS = re.compile(r"[,،;؛/\\|\r\n\u2028\u2029]+")
_NUMBER_PUNCTUATION = re.compile(r"[\s\-.()\u2010-\u2015\u2212]+")
_EDGE_JUNK = re.compile(r"^[^\d+]+|\D+$")  # "تلفن:" before, ":" or "." after a number
_CANDIDATE = re.compile(r"\+?\d+")
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
)


@dataclass(frozen=True)
class Phone:
    """One validated phone number.

    ``number``: Iranian numbers in national format with ASCII digits only (``"02188776655"``,
    ``"09121234567"``); numbers of other countries in E.164 (``"+16502530000"``), since a national
    format would lose the country. ``kind``: ``"mobile"`` when libphonenumber says MOBILE, else
    ``"landline"``. ``raw``: the piece of the input it came from (digits already ASCII, trimmed).
    """

    number: str
    kind: PhoneKind
    raw: str


@dataclass(frozen=True)
class PhoneSplit:
    """Result of :func:`split_phones`: the phones found, in input order, and the pieces that were not."""

    phones: list[Phone] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


def _candidate(text: str) -> str | None:
    """Digits with an optional leading ``+``, or ``None`` when ``text`` is not number-like."""
    s = _EDGE_JUNK.sub("", _NUMBER_PUNCTUATION.sub("", text))
    return s if _CANDIDATE.fullmatch(s) else None


def parse_phone(text: str, *, area_code: str | None = None) -> Phone | None:
    """One phone number from ``text`` (ASCII digits expected), or ``None`` when it is not valid.

    ``area_code`` (such as ``"021"``) is tried in front of numbers that fail on their own and do not
    start with ``0`` or ``+``, for sites whose users leave out their own city's code.
    """
    cand = _candidate(text)
    if cand is None or len(cand.lstrip("+")) > _MAX_DIGITS:
        return None
    tries = [cand]
    if area_code and not cand.startswith(("0", "+")):
        tries.append(normalize_code(area_code) + cand)
    for t in tries:
        try:
            num = phonenumbers.parse(t, _REGION)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number(num):
            continue
        if num.country_code == 98:
            national = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
            number = re.sub(r"\D", "", national)
        else:
            number = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
        is_mobile = phonenumbers.number_type(num) == phonenumbers.PhoneNumberType.MOBILE
        return Phone(number=number, kind="mobile" if is_mobile else "landline", raw=text.strip())
    return None


def _has_digit(s: str) -> bool:
    return any(c.isdigit() for c in s)


def _split_part(part: str, area_code: str | None, out: PhoneSplit) -> None:
    if not any(c.isalpha() for c in part):
        whole = parse_phone(part, area_code=area_code)
        if whole is not None:
            out.phones.append(whole)
            return
    tokens = part.split()
    i = 0
    while i < len(tokens):
        if not _has_digit(tokens[i]):  # words and stray punctuation carry no phone
            i += 1
            continue
        best: tuple[int, Phone] | None = None
        digits = 0
        for j in range(i + 1, len(tokens) + 1):
            token = tokens[j - 1]
            if not _has_digit(token):
                if _NUMBER_PUNCTUATION.fullmatch(token):  # the "-" of "021 - 88776655"
                    continue
                break  # a word ends the run
            digits += sum(c.isdigit() for c in token)
            if digits > _MAX_DIGITS:
                break
            phone = parse_phone(" ".join(tokens[i:j]), area_code=area_code)
            if phone is not None:
                best = (j, phone)
        if best is None:
            out.invalid.append(tokens[i])
            i += 1
        else:
            i, phone = best
            out.phones.append(phone)


def split_phones(text: object, *, area_code: str | None = None) -> PhoneSplit:
    """Split a Tadbir phone field into phones (see the module docstring for the rules).

    ``None``/NaN/blank → an empty result. Duplicates are kept (see :func:`phones_of_customer`).
    """
    out = PhoneSplit()
    s = to_ascii_digits(text).translate(_INVISIBLE)
    for part in _HARD_SEPARATORS.split(s):
        if part.strip():
            _split_part(part, area_code, out)
    return out


def phones_of_customer(
    phone_no: object,
    mobile_no: object,
    fax_no: object,
    *,
    area_code: str | None = None,
) -> list[dict[str, object]]:
    """The CRM phone contacts of a Tadbir customer.

    Each dict is ``{"phoneType": "موبایل"|"تلفن"|"فکس", "phoneNumber": str, "default": bool}``.
    Numbers from ``phone_no`` and ``mobile_no`` are typed by what they are (a mobile number typed into
    PhoneNo is a "موبایل"); every number from ``fax_no`` is a "فکس". Order: phone_no, mobile_no, fax_no,
    each in text order; a repeated (phoneType, phoneNumber) is kept once, so a number that is both
    phone and fax keeps both entries. Exactly one entry is the default when the list is not empty: the
    first mobile, else the first landline, else the first fax. Unparseable pieces are dropped (see
    :func:`customer_phones` for them).
    """
    return customer_phones(phone_no, mobile_no, fax_no, area_code=area_code)[0]


def customer_phones(
    phone_no: object,
    mobile_no: object,
    fax_no: object,
    *,
    area_code: str | None = None,
) -> tuple[list[dict[str, object]], list[str]]:
    """``(contacts, invalid)``: the CRM phone contacts of a Tadbir customer (:func:`phones_of_customer`) and
    the pieces of its three fields that are not phone numbers, each field split once."""
    contacts: list[dict[str, object]] = []
    invalid: list[str] = []
    seen: set[tuple[str, str]] = set()
    for value, is_fax in ((phone_no, False), (mobile_no, False), (fax_no, True)):
        split = split_phones(value, area_code=area_code)
        invalid += split.invalid
        for phone in split.phones:
            kind = FAX if is_fax else MOBILE if phone.kind == "mobile" else LANDLINE
            key = (kind, phone.number)
            if key not in seen:
                seen.add(key)
                contacts.append({"phoneType": kind, "phoneNumber": phone.number, "default": False})
    for kind in (MOBILE, LANDLINE, FAX):
        first = next((c for c in contacts if c["phoneType"] == kind), None)
        if first is not None:
            first["default"] = True
            break
    return contacts, invalid
