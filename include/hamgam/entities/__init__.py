"""The registry: one spec per document type. Adding a document type = adding one spec here.

The order is the dependency order: identities and products before the documents that name them,
sales invoices before the returns that name them. ``layers`` derives the backfill's order from each spec's
references, so a new spec takes its place there by what it names.
"""

from collections.abc import Mapping
from graphlib import CycleError, TopologicalSorter

from hamgam.entities.base import EntitySpec
from hamgam.entities.documents import (
    PURCHASE_INVOICES,
    PURCHASE_RETURNS,
    QUOTES,
    SALES_INVOICES,
    SALES_RETURNS,
)
from hamgam.entities.identities import IDENTITIES
from hamgam.entities.products import PRODUCTS
from hamgam.entities.treasury import PAYMENTS, RECEIPTS

SPECS: dict[str, EntitySpec] = {spec.name: spec for spec in (
    IDENTITIES, PRODUCTS, QUOTES, SALES_INVOICES, SALES_RETURNS, RECEIPTS, PAYMENTS, PURCHASE_INVOICES,
    PURCHASE_RETURNS)}


def layers(specs: Mapping[str, EntitySpec] = SPECS) -> tuple[tuple[str, ...], ...]:
    """The specs in layers, each after every spec its records name (``EntitySpec.references``): what a
    record names is in the CRM before the record is loaded. Within a layer, the registry's order. Raises
    ``ValueError`` naming a reference to an unknown spec or a cycle."""
    graph: dict[str, set[str]] = {}
    for name, spec in specs.items():
        unknown = [ref.entity for ref in spec.references if ref.entity not in specs]
        if unknown:
            raise ValueError(f"entity {name!r} references {unknown}, which have no spec")
        graph[name] = {ref.entity for ref in spec.references if ref.entity != name}
    sorter = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError as error:
        raise ValueError(f"the entities' references make a cycle: {' → '.join(error.args[1])}") from None
    order = list(specs)
    out = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=order.index)
        out.append(tuple(ready))
        sorter.done(*ready)
    return tuple(out)


__all__ = ["SPECS", "EntitySpec", "layers"]
