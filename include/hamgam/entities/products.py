"""Products (Tadbir merchandise → Payamgostar products, over SOAP IProduct).

Rules from shared/reference/vendor-sync-spec.md: the key is the product code; name, unit (only when
the CRM has a unit of that name), the first price level's price, taxable (from ``__MerchTax__``),
sellable, description; group rows (``IsGroup = 1``) are not products; edits and deletes flow from
Tadbir only. Stock per warehouse is not pushed (it changes with every invoice): the CRM reads it live
from hamgam's inventory endpoint, as it does from the vendor's synchronizer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import Field, field_validator

from hamgam.entities.base import (
    DISPLAY,
    KEY,
    ROW_ID,
    TOO_LONG,
    TOO_LONG_CHECK,
    EntitySpec,
    LoadItem,
    Outcome,
    Payload,
    Refs,
    SyncContext,
    stored_in_crm,
)
from hamgam.payamgostar.errors import RecordRejected
from hamgam.settings import EntitySettings, HamgamConfig
from hamgam.tadbir import schema
from hamgam.tadbir.reader import QueryRef
from hamgam.transform.limits import too_long, truncate
from hamgam.validate import Check

if TYPE_CHECKING:
    import pandas as pd

    from hamgam.ledger.store import RecordState
    from hamgam.payamgostar.client import PayamgostarClient


class ProductsSettings(EntitySettings):
    """The ``products`` section of the settings file."""

    code_format: str = Field(default="{company}-{code}", description="CRM product code; {company} and {code}")
    crm_units: list[str] = Field(default_factory=list, description="Unit names the CRM has; others are not sent")
    sellable: bool = True

    @field_validator("code_format")
    @classmethod
    def _has_code(cls, value: str) -> str:
        if "{code}" not in value:
            raise ValueError("code_format must contain {code}")
        return value


def settings(config: HamgamConfig) -> ProductsSettings:
    return config.entity_settings("products", ProductsSettings)


def crm_product_code(config: HamgamConfig, company: int, code: str) -> str:
    """The product's code in the CRM: several companies may use the same Tadbir codes."""
    return settings(config).code_format.format(company=company, code=code)


def _query() -> sa.Subquery:
    """Non-group merchandise with its unit name, first price level's price and latest tax rates."""
    m, u, p, t = (schema.merchandise.alias("m"), schema.unit.alias("u"), schema.sales_price.alias("p"),
                  schema.merch_tax.alias("t"))
    first_level = (sa.select(p.c.MerchId, p.c.FPId, sa.func.min(p.c.Type).label("Type"))
                   .group_by(p.c.MerchId, p.c.FPId).subquery("first_level"))
    price = schema.sales_price.alias("price")
    latest_tax = (sa.select(t.c.MerchId, t.c.FPId, sa.func.max(t.c.EffectDate).label("EffectDate"))
                  .group_by(t.c.MerchId, t.c.FPId).subquery("latest_tax"))
    tax = schema.merch_tax.alias("tax")
    joined = (m.outerjoin(u, (u.c.Id == m.c.UnitId) & (u.c.FPId == m.c.FPId))
              .outerjoin(first_level, (first_level.c.MerchId == m.c.Id) & (first_level.c.FPId == m.c.FPId))
              .outerjoin(price, (price.c.MerchId == m.c.Id) & (price.c.FPId == m.c.FPId)
                         & (price.c.Type == first_level.c.Type))
              .outerjoin(latest_tax, (latest_tax.c.MerchId == m.c.Id) & (latest_tax.c.FPId == m.c.FPId))
              .outerjoin(tax, (tax.c.MerchId == m.c.Id) & (tax.c.FPId == m.c.FPId)
                         & (tax.c.EffectDate == latest_tax.c.EffectDate)))
    return (sa.select(m.c.Id, m.c.FPId, m.c.Code, m.c.Name, m.c.MType, m.c.MDesc, m.c.UnitPrice,
                      u.c.Name.label("UnitName"), price.c.Val2.label("Price"),
                      tax.c.TaxPercent, tax.c.AvarezPercent)
            .select_from(joined).where(sa.func.coalesce(m.c.IsGroup, 0) != 1).subquery("products"))


SOURCE = QueryRef("__Merchandise__", _query)

CHECKS = (
    TOO_LONG_CHECK,
    Check("ExpectColumnValuesToNotBeNull", "product_code", "product code is empty"),
    Check("ExpectColumnValuesToBeUnique", "product_code",
          "the same product code belongs to more than one product in this fiscal period"),
    Check("ExpectColumnValuesToNotBeNull", "name", "product name is empty"),
    Check("ExpectColumnValuesToBeBetween", "price", "price is negative", {"min_value": 0}),
)

HASH_COLUMNS = ("product_code", "name", "unit", "price", "taxable", "tollable", "is_service", "description")


def prepare(raw: pd.DataFrame, ctx: SyncContext, lines: pd.DataFrame | None = None) -> pd.DataFrame:
    import pandas as pd

    from hamgam.transform.text import normalize_code_series, normalize_name_series

    frame = pd.DataFrame(index=raw.index)
    frame[ROW_ID] = raw["Id"].astype("int64")
    code = normalize_code_series(raw["Code"])
    frame["product_code"] = code.astype(object).where(code.str.len() > 0, None)
    frame["name"] = normalize_name_series(raw["Name"]).astype(object)
    frame.loc[frame["name"] == "", "name"] = None
    frame["description"] = normalize_name_series(raw["MDesc"]).astype(object)
    unit = normalize_name_series(raw["UnitName"].fillna(""))
    known_units = {u.strip() for u in settings(ctx.config).crm_units}
    # carried only when the CRM has a unit of that name (vendor rule); no list configured → carried
    frame["unit"] = unit.astype(object).where((unit.str.len() > 0) & (unit.isin(known_units) | (not known_units)),
                                              None)
    price = raw["Price"].where(raw["Price"].notna(), raw["UnitPrice"])
    frame["price"] = pd.to_numeric(price, errors="coerce").fillna(0).round().astype("int64")
    frame["taxable"] = pd.to_numeric(raw["TaxPercent"], errors="coerce").fillna(0) > 0
    frame["tollable"] = pd.to_numeric(raw["AvarezPercent"], errors="coerce").fillna(0) > 0
    frame["is_service"] = pd.to_numeric(raw["MType"], errors="coerce").fillna(0).astype(int) == 1
    frame["crm_code"] = frame["product_code"].map(
        lambda c: crm_product_code(ctx.config, ctx.company.code, c) if c else None)
    frame[KEY] = frame["product_code"].where(frame["product_code"].notna(), "~id:" + frame[ROW_ID].astype(str))
    frame[DISPLAY] = frame["crm_code"].where(frame["crm_code"].notna(), frame[KEY])

    limits = ctx.config.limits
    frame["description"] = frame["description"].map(
        lambda text: truncate(text, limits.free_text, limits.truncation_marker))
    frame[TOO_LONG] = pd.Series(
        [too_long([("Code", code, limits.code), ("Name", name, limits.name), ("UnitName", unit, limits.place)])
         for code, name, unit in zip(frame["crm_code"], frame["name"], frame["unit"], strict=True)],
        index=frame.index, dtype=object)
    return frame


def _product_info(row: dict[str, Any], ctx: SyncContext) -> dict[str, Any]:
    info: dict[str, Any] = {
        "Code": row["crm_code"],
        "Description": row["description"] or None,
        "IsService": bool(row["is_service"]),
        "Name": row["name"],
        "ProductUnitType": row["unit"],
        "RefId": f"tadbir:{ctx.company.code}:product:{row['product_code']}",
        "Sellable": settings(ctx.config).sellable,
        "Taxable": bool(row["taxable"]),
        "Tollable": bool(row["tollable"]),
        "UnitPrice": int(row["price"]),
    }
    return {k: v for k, v in info.items() if v is not None}


def payload(row: dict[str, Any], ctx: SyncContext, refs: Refs) -> Payload:
    return Payload(f"product {row['crm_code']}", "product", row["crm_code"], {"soap": _product_info(row, ctx)})


class ProductTarget:
    """Known product → saved under its stored id (one call); else, with ``look_first``, the product holding
    the code is adopted; else created. A save under the stored id that the CRM refuses is looked up by
    code: gone from the CRM → adopt or create; still there → the refusal stands."""

    def upsert(self, client: PayamgostarClient, item: LoadItem, known: RecordState | None, *,
               look_first: bool = True) -> Outcome:
        info = dict(item.payloads["soap"])
        if stored_in_crm(known, item):
            try:
                return Outcome("updated", client.save_product({**info, "Id": known.crm_id}, record=item.label)
                               or known.crm_id, "product")
            except RecordRejected:
                found = client.find_product_by_code(item.number, record=item.label)
                if found is not None and found["Id"] == known.crm_id:
                    raise
                return self._adopt_or_create(client, item, info, found)
        found = client.find_product_by_code(item.number, record=item.label) if look_first else None
        return self._adopt_or_create(client, item, info, found)

    @staticmethod
    def _adopt_or_create(client: PayamgostarClient, item: LoadItem, info: dict[str, Any],
                         found: dict | None) -> Outcome:
        if found is not None:
            return Outcome("adopted", client.save_product({**info, "Id": found["Id"]}, record=item.label)
                           or found["Id"], "product")
        return Outcome("created", client.save_product(info, record=item.label), "product")

    def delete(self, client: PayamgostarClient, known: RecordState) -> Outcome:
        if not known.crm_number:
            return Outcome("gone", known.crm_id, "product")
        deleted = client.delete_product_by_code(known.crm_number, record=f"product {known.crm_number}")
        return Outcome("deleted" if deleted else "gone", known.crm_id, "product")


PRODUCTS = EntitySpec(
    name="products",
    label="product",
    source=SOURCE,
    hash_columns=HASH_COLUMNS,
    checks=CHECKS,
    prepare=prepare,
    payload=payload,
    target=ProductTarget(),
    settings=ProductsSettings(),
)
