"""The reverse flows' registry (CRM → Tadbir), as ``hamgam.entities.SPECS`` is the forward one: one spec per
webhook source, naming its DAG, its switch, how the sweep finds what changed and how one item is applied.
``hamgam.reverse.run`` runs any of them; the DAG builder makes one DAG per spec."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from hamgam.entities.documents import settings as document_settings
from hamgam.reverse import identities, quotes

if TYPE_CHECKING:
    import sqlalchemy as sa

    from hamgam.ledger.store import Ledger
    from hamgam.payamgostar.client import PayamgostarClient
    from hamgam.settings import HamgamConfig


class Applied(Protocol):
    """What applying one CRM item to Tadbir did (``identities.Applied``, ``quotes.Applied``)."""

    @property
    def action(self) -> str: ...  # created | updated | unchanged | skipped | ignored
    @property
    def company(self) -> int: ...
    @property
    def message(self) -> str: ...


class Switch(Protocol):
    @property
    def enabled(self) -> bool: ...


# (config, collected item {"crm_id", "subtype"}, client, Tadbir engines by company, ledger) -> what was done,
# or None when the CRM no longer holds the item (nothing touches Tadbir)
ApplyItem = Callable[["HamgamConfig", dict[str, Any], "PayamgostarClient", "dict[int, sa.Engine]", "Ledger"],
                     "Applied | None"]
# (client, since, config) -> (CRM record, its subtype or None) modified at or after ``since``
Sweep = Callable[["PayamgostarClient", datetime, "HamgamConfig"], list[tuple[dict, "str | None"]]]


@dataclass(frozen=True)
class ReverseSpec:
    source: str  # the webhook (/api/sync/<source>) and the ledger's event source
    name: str  # the DAG: payamgostar_to_tadbir__<name>
    label: str  # one item in messages
    crm_entity: str  # the ledger entity of the flow's own record per CRM id (what it did and why)
    switch: Callable[[HamgamConfig], Switch]  # the "CRM → financial" switch of the settings
    sweep: Sweep
    apply: ApplyItem
    records_synced: bool  # the runner records a synced item (else ``apply`` records what it wrote itself)

    @property
    def dag_id(self) -> str:
        return f"payamgostar_to_tadbir__{self.name}"


def _sweep_identities(client: PayamgostarClient, since: datetime, config: HamgamConfig
                      ) -> list[tuple[dict, str | None]]:
    return [(record, kind) for kind, record in client.identities_modified_since(since)]


def _apply_identity(config: HamgamConfig, item: dict[str, Any], client: PayamgostarClient,
                    engines: dict[int, sa.Engine], ledger: Ledger) -> Applied | None:
    fetched = identities.fetch_identity(client, item["crm_id"], item.get("subtype"))
    if fetched is None:
        return None
    return identities.apply_identity(config, *fetched, engines=engines, ledger=ledger)


def _sweep_quotes(client: PayamgostarClient, since: datetime, config: HamgamConfig) -> list[tuple[dict, str | None]]:
    return [(record, None) for record in client.quotes_modified_since(since, document_settings(config, "quotes").type_code)]


def _apply_quote(config: HamgamConfig, item: dict[str, Any], client: PayamgostarClient,
                 engines: dict[int, sa.Engine], ledger: Ledger) -> Applied | None:
    from hamgam.payamgostar.errors import NotFound

    try:
        quote = client.get_quote(item["crm_id"], record=f"quote {item['crm_id']}")
    except NotFound:
        return None
    return quotes.apply_quote(config, quote, client=client, engines=engines, ledger=ledger)


IDENTITIES = ReverseSpec("customer", "identities", "identity", identities.CRM_ENTITY,
                         lambda config: config.reverse.identities, _sweep_identities, _apply_identity,
                         records_synced=True)
QUOTES = ReverseSpec("salequote", "quotes", "quote", quotes.CRM_ENTITY, lambda config: config.reverse.quotes,
                     _sweep_quotes, _apply_quote, records_synced=False)

REVERSE_SPECS: dict[str, ReverseSpec] = {spec.source: spec for spec in (IDENTITIES, QUOTES)}
