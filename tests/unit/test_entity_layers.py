"""The fiscal-year backfill's order comes from what each spec's records name (its references)."""

from __future__ import annotations

import dataclasses

import pytest

from hamgam.entities import SPECS, layers
from hamgam.entities.base import Reference


def test_the_registry_in_layers_names_before_named():
    assert layers(SPECS) == (("identities", "products"),
                             ("quotes", "sales_invoices", "receipts", "payments", "purchase_invoices"),
                             ("sales_returns", "purchase_returns"))


def test_a_new_spec_takes_its_layer_from_what_it_names():
    naming_returns = dataclasses.replace(SPECS["payments"], name="refunds",
                                         references=(Reference("sales_returns", "ref_return", "sales return"),))
    assert layers({**SPECS, "refunds": naming_returns})[-1] == ("refunds",)


def test_a_cycle_or_an_unknown_reference_is_refused_with_its_names():
    looping = dataclasses.replace(SPECS["identities"],
                                  references=(Reference("sales_returns", "ref_return", "sales return"),))
    with pytest.raises(ValueError, match="cycle: .*identities"):
        layers({**SPECS, "identities": looping})
    with pytest.raises(ValueError, match="'quotes' references \\['contracts'\\]"):
        layers({**SPECS, "quotes": dataclasses.replace(
            SPECS["quotes"], references=(Reference("contracts", "ref_contract", "contract"),))})
