"""Deliberate dirt that real Tadbir customer data carries, applied to a handful of customers each.

Every dirty customer gets exactly one kind of dirt, in every fiscal period (its Id is the same in
all periods). :func:`apply_dirt` returns the list of cases for the build summary, each a dict::

    {"case": str, "customer_ids": [int, ...], "fields": [column, ...],
     "values": [{"Id": int, column: stored value, ...}, ...], "note": str}
"""

from __future__ import annotations

import random
from collections.abc import Callable

from . import codes
from .customers import PERSON, CustomerMaster

ARABIC_LETTERS_IN_NAME = "arabic_letters_in_name"
SAMAN_DIGITS_IN_SUBSCRIPTION_NO = "saman_digits_in_subscription_no"
SAMAN_DIGITS_IN_PHONE_NO = "saman_digits_in_phone_no"
SAMAN_DIGITS_IN_REGISTER_CODE = "saman_digits_in_register_code"
PERSIAN_DIGITS_MOBILE_ENTERED = "persian_digits_mobile_entered"
MULTIPLE_PHONE_NUMBERS = "multiple_phone_numbers"
INVALID_NATIONAL_CODE = "invalid_national_code"
EMPTY_SUBSCRIPTION_NO = "empty_subscription_no"
SUBSCRIPTION_NO_COLLISION = "subscription_no_collision"
POSTAL_CODE_9_DIGITS = "postal_code_9_digits"
EMPTY_NAME = "empty_name"

# Columns the Android client rewrites with Persian digits (reference section 2).
MOBILE_CONVERTED_FIELDS = (
    "Name", "SubscriptionNo", "PhoneNo", "FaxNo", "MobileNo", "Email", "Address",
    "PostalCode", "RegisterCode", "EcCode", "CDesc",
)
PHONE_SEPARATORS = (" ", ",", "،", "، ")


class _Picker:
    """Hands out distinct customers in a seeded order, optionally filtered."""

    def __init__(self, rng: random.Random, masters: list[CustomerMaster]):
        self._order = list(masters)
        rng.shuffle(self._order)
        self.used: set[int] = set()

    def take(self, k: int, predicate: Callable[[CustomerMaster], bool] = lambda m: True):
        chosen = [m for m in self._order if m.id not in self.used and predicate(m)][:k]
        if len(chosen) < k:
            raise ValueError(f"not enough customers for {k} dirty cases; raise the scale")
        self.used.update(m.id for m in chosen)
        return sorted(chosen, key=lambda m: m.id)


def _case(kind: str, members: list[CustomerMaster], fields: list[str], note: str) -> dict:
    return {
        "case": kind,
        "customer_ids": [m.id for m in members],
        "fields": list(fields),
        "values": [{"Id": m.id, **{f: m.fields[f] for f in fields}} for m in members],
        "note": note,
    }


def _each(kind: str, members: list[CustomerMaster], fields: list[str], note: str) -> list[dict]:
    return [_case(kind, [m], fields, note) for m in members]


def _has_persian_yeh_or_kaf(m: CustomerMaster) -> bool:
    return any(ch in str(m.fields["Name"]) for ch in (codes.PERSIAN_YEH, codes.PERSIAN_KAF))


def apply_dirt(rng: random.Random, masters: list[CustomerMaster]) -> tuple[list[dict], set[int]]:
    """Mutate a few customers' ``fields``; return the summary cases and the dirty customer ids."""
    pick = _Picker(rng, masters)
    cases: list[dict] = []

    members = pick.take(4, _has_persian_yeh_or_kaf)
    for m in members:
        m.fields["Name"] = codes.to_arabic_letters(str(m.fields["Name"]))
    cases += _each(ARABIC_LETTERS_IN_NAME, members, ["Name"], "Arabic ي/ك instead of Persian ی/ک")

    for kind, column, predicate in (
        (SAMAN_DIGITS_IN_SUBSCRIPTION_NO, "SubscriptionNo", lambda m: True),
        (SAMAN_DIGITS_IN_PHONE_NO, "PhoneNo", lambda m: bool(m.fields["PhoneNo"])),
        (SAMAN_DIGITS_IN_REGISTER_CODE, "RegisterCode", lambda m: True),
    ):
        members = pick.take(3, predicate)
        for m in members:
            m.fields[column] = codes.to_saman_digits(str(m.fields[column]))
        cases += _each(kind, members, [column], "Saman-font digits (desktop client); valid once decoded")

    for m in pick.take(3, lambda m: bool(m.fields["PhoneNo"] or m.fields["MobileNo"])):
        changed = [f for f in MOBILE_CONVERTED_FIELDS if any(ch.isdigit() for ch in str(m.fields[f]))]
        for f in changed:
            m.fields[f] = codes.to_persian_digits(str(m.fields[f]))
        cases.append(_case(PERSIAN_DIGITS_MOBILE_ENTERED, [m], changed, "Persian digits U+06F0..U+06F9"))

    for i, m in enumerate(pick.take(len(PHONE_SEPARATORS))):
        numbers = [str(m.fields["PhoneNo"]) or codes.landline(rng, m.city.area_code)]
        numbers.append(codes.landline(rng, m.city.area_code))
        if i == len(PHONE_SEPARATORS) - 1:
            numbers.append(codes.mobile(rng))
        m.fields["PhoneNo"] = PHONE_SEPARATORS[i].join(numbers)
        cases.append(
            _case(MULTIPLE_PHONE_NUMBERS, [m], ["PhoneNo"], f"{len(numbers)} numbers separated by {PHONE_SEPARATORS[i]!r}")
        )

    members = pick.take(3, lambda m: m.kind == PERSON)
    for m in members:
        m.fields["RegisterCode"] = codes.invalidate_national_code(str(m.fields["RegisterCode"]), rng)
    cases += _each(INVALID_NATIONAL_CODE, members, ["RegisterCode"], "10 digits, bad checksum")

    members = pick.take(2)
    for m in members:
        m.fields["SubscriptionNo"] = ""
    cases += _each(EMPTY_SUBSCRIPTION_NO, members, ["SubscriptionNo"], "no customer code")

    for encode, label in ((codes.to_persian_digits, "Persian"), (codes.to_saman_digits, "Saman")):
        first, second = pick.take(2)
        second.fields["SubscriptionNo"] = encode(str(first.fields["SubscriptionNo"]))
        cases.append(
            _case(
                SUBSCRIPTION_NO_COLLISION,
                [first, second],
                ["SubscriptionNo"],
                f"two different customers; the second code is the first in {label} digits",
            )
        )

    members = pick.take(2)
    for m in members:
        m.fields["PostalCode"] = str(m.fields["PostalCode"])[:9]
    cases += _each(POSTAL_CODE_9_DIGITS, members, ["PostalCode"], "postal code must have 10 digits")

    members = pick.take(1)
    for m in members:
        m.fields["Name"] = ""
    cases += _each(EMPTY_NAME, members, ["Name"], "empty Name")

    return cases, set(pick.used)
