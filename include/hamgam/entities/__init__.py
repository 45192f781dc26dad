"""The registry: one spec per document type. Adding a document type = adding one spec here."""

from hamgam.entities.base import EntitySpec
from hamgam.entities.identities import IDENTITIES

SPECS: dict[str, EntitySpec] = {spec.name: spec for spec in (IDENTITIES,)}

__all__ = ["SPECS", "EntitySpec"]
