"""The registry: one spec per document type. Adding a document type = adding one spec here.

The order is the dependency order: identities and products before the documents that name them,
sales invoices before the returns that name them.
"""

from hamgam.entities.base import EntitySpec
from hamgam.entities.documents import QUOTES, SALES_INVOICES, SALES_RETURNS
from hamgam.entities.identities import IDENTITIES
from hamgam.entities.products import PRODUCTS
from hamgam.entities.treasury import PAYMENTS, RECEIPTS

SPECS: dict[str, EntitySpec] = {spec.name: spec for spec in (
    IDENTITIES, PRODUCTS, QUOTES, SALES_INVOICES, SALES_RETURNS, RECEIPTS, PAYMENTS)}

__all__ = ["SPECS", "EntitySpec"]
