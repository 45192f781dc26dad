"""History between fiscal periods: the newest period's copy of a few clean customers differs.

* ``edited_in_newer_period``: a new address (with its postal code), phone or mobile number;
* ``renumbered_in_newer_period``: the same customer (same SubscriptionNo) under a different Id.

Both are history, not duplicates: the sync identity is the SubscriptionNo and the newest period
wins. Summary entries have the same shape as the dirty cases (:mod:`tadbir_demo.dirt`).
"""

from __future__ import annotations

import random

from . import codes, places
from .customers import CustomerMaster, History
from .fiscal import Period, moment_in

EDITED_IN_NEWER_PERIOD = "edited_in_newer_period"
RENUMBERED_IN_NEWER_PERIOD = "renumbered_in_newer_period"
EDITS = 6
RENUMBERS = 3


def _edit(rng: random.Random, m: CustomerMaster, turn: int) -> dict[str, object]:
    if turn % 3 == 0:
        return {"Address": places.address(rng), "PostalCode": codes.postal_code(rng)}
    if turn % 3 == 1:
        return {"PhoneNo": codes.landline(rng, m.city.area_code)}
    return {"MobileNo": codes.mobile(rng)}


def plan_history(
    rng: random.Random, masters: list[CustomerMaster], periods: list[Period], exclude: set[int]
) -> tuple[History, list[dict]]:
    history = History()
    if len(periods) < 2:
        return history, []
    newest = periods[-1]
    clean = [m for m in masters if m.id not in exclude]
    chosen = rng.sample(clean, EDITS + RENUMBERS)
    cases: list[dict] = []
    for turn, m in enumerate(sorted(chosen[:EDITS], key=lambda c: c.id)):
        changes = _edit(rng, m, turn)
        history.edits[m.id] = changes
        history.edit_times[m.id] = moment_in(rng, newest)
        cases.append(
            {
                "case": EDITED_IN_NEWER_PERIOD,
                "customer_ids": [m.id],
                "fields": list(changes),
                "values": [
                    {"Id": m.id, "FPId": periods[-2].id, **{f: m.fields[f] for f in changes}},
                    {"Id": m.id, "FPId": newest.id, **changes},
                ],
                "note": f"details changed in fiscal year {newest.year}",
            }
        )
    next_id = max(m.id for m in masters) + 1
    for m in sorted(chosen[EDITS:], key=lambda c: c.id):
        history.renumbered[m.id] = next_id
        cases.append(
            {
                "case": RENUMBERED_IN_NEWER_PERIOD,
                "customer_ids": [m.id, next_id],
                "fields": ["Id"],
                "values": [
                    {"Id": m.id, "FPId": periods[-2].id, "SubscriptionNo": m.fields["SubscriptionNo"]},
                    {"Id": next_id, "FPId": newest.id, "SubscriptionNo": m.fields["SubscriptionNo"]},
                ],
                "note": f"same customer under a new Id in fiscal year {newest.year}",
            }
        )
        next_id += 1
    return history, cases
