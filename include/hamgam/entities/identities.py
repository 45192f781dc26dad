"""Identities (Tadbir customers → Payamgostar persons and organizations).

Rules from shared/reference/vendor-sync-spec.md: the key is the customer code (SubscriptionNo) ⇄ the
CRM customer number ``{companyCode}-{*(AN)}``; several numbers in one phone field become several
phones; person or organization by policy; a kind change made in Tadbir is not applied to the CRM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from hamgam.entities.base import (
    DISPLAY,
    KEY,
    NO_CODE,
    ROW_ID,
    TOO_LONG,
    TOO_LONG_CHECK,
    EntitySpec,
    LoadItem,
    Outcome,
    Payload,
    Refs,
    SyncContext,
    in_crm,
)
from hamgam.payamgostar.errors import NotFound, RecordRejected
from hamgam.settings import EntitySettings, HamgamConfig
from hamgam.tadbir.reader import TableRef
from hamgam.transform.limits import too_long, truncate
from hamgam.transform.numbering import Template, TemplateError
from hamgam.validate import Check

if TYPE_CHECKING:
    import pandas as pd

    from hamgam.ledger.store import RecordState
    from hamgam.payamgostar.client import PayamgostarClient

class IdentitiesSettings(EntitySettings):
    """The ``identities`` section of the settings file."""

    kind_policy: Literal["organization", "by_register_code"] = "by_register_code"
    customer_number_template: str = "{companyCode}-{*(AN)}"
    person_type_code: str = "person"
    organization_type_code: str = "organization"
    category_key: str | None = None
    transfer_address: bool = True


def settings(config: HamgamConfig) -> IdentitiesSettings:
    return config.entity_settings("identities", IdentitiesSettings)


SOURCE = TableRef(
    table="__Customer__",
    columns=("SubscriptionNo", "Name", "RegisterCode", "EcCode", "PostalCode", "ZipCode", "PhoneNo",
             "MobileNo", "FaxNo", "Email", "Address", "Province", "City", "Zone", "TownShip", "CDesc",
             "Active", "Type"),
)

TEXT_COLUMNS = {"name": "Name", "address": "Address", "province": "Province", "city": "City",
                "zone": "Zone", "township": "TownShip", "description": "CDesc", "email": "Email"}
CODE_COLUMNS = {"customer_code": "SubscriptionNo", "register_code": "RegisterCode", "economic_code": "EcCode",
                "postal_code": "PostalCode"}
PHONE_COLUMNS = {"phone_text": "PhoneNo", "mobile_text": "MobileNo", "fax_text": "FaxNo"}
# prepared column → (Tadbir column named in messages, settings ``limits`` field): longer is invalid
LIMITED_COLUMNS = {"customer_number": ("SubscriptionNo", "code"), "name": ("Name", "name"),
                   "address": ("Address", "address"), "province": ("Province", "place"), "city": ("City", "place"),
                   "zone": ("Zone", "place"), "township": ("TownShip", "place"), "email": ("Email", "email"),
                   "economic_code": ("EcCode", "code"), "register_code": ("RegisterCode", "code")}

CHECKS = (
    TOO_LONG_CHECK,
    Check("ExpectColumnValuesToNotBeNull", "customer_code", "customer code (SubscriptionNo) is empty"),
    Check("ExpectColumnValuesToBeUnique", "customer_code",
          "the same customer code belongs to more than one customer in this fiscal period"),
    Check("ExpectColumnValuesToNotBeNull", "name", "name is empty"),
    Check("ExpectColumnValuesToBeInSet", "register_code_ok",
          "national code (10 digits) or national id (11 digits) fails its checksum",
          {"value_set": [True]}, value_column="register_code"),
    Check("ExpectColumnValuesToMatchRegex", "postal_code", "postal code must have exactly 10 digits",
          {"regex": r"^\d{10}$"}),
    Check("ExpectColumnValuesToBeInSet", "phones_ok", "a phone number does not parse",
          {"value_set": [True]}, value_column="phones_invalid"),
    Check("ExpectColumnValuesToBeInSet", "number_ok", "customer code does not fit the customer number template",
          {"value_set": [True]}, value_column="customer_code"),
)


def _blank_to_none(series: pd.Series) -> pd.Series:
    """Empty text becomes None (object dtype, so per-row helpers see None, never NaN)."""
    return series.astype(object).where(series.str.len() > 0, None)


def _register_code_ok(code: str | None) -> bool | None:
    from hamgam.transform.codes import is_valid_national_code, is_valid_national_id

    if not code or not code.isdigit():
        return None  # a registration number or nothing: no checksum applies
    if len(code) == 10:
        return is_valid_national_code(code)
    if len(code) == 11:
        return is_valid_national_id(code)
    return None


def _kind(register_code: str | None, policy: str) -> str:
    from hamgam.transform.codes import is_valid_national_code

    if policy == "by_register_code" and register_code and len(register_code) == 10 \
            and is_valid_national_code(register_code):
        return "person"
    return "organization"


def prepare(raw: pd.DataFrame, ctx: SyncContext, lines: pd.DataFrame | None = None) -> pd.DataFrame:
    """Normalise Tadbir's text (Saman digits, Arabic letters), derive check columns and the key."""
    import pandas as pd

    from hamgam.transform.phones import customer_phones
    from hamgam.transform.text import normalize_code_series, normalize_name_series

    frame = pd.DataFrame(index=raw.index)
    frame[ROW_ID] = raw["Id"].astype("int64")
    for out, col in TEXT_COLUMNS.items():
        frame[out] = _blank_to_none(normalize_name_series(raw[col]))
    for out, col in CODE_COLUMNS.items():
        frame[out] = _blank_to_none(normalize_code_series(raw[col]))
    frame.loc[frame["postal_code"].isin(["0"]), "postal_code"] = None  # Tadbir's "no postal code"
    for out, col in PHONE_COLUMNS.items():
        frame[out] = _blank_to_none(normalize_name_series(raw[col]))
    frame["email"] = frame["email"].str.lower()

    frame["register_code_ok"] = frame["register_code"].map(_register_code_ok)
    # each phone field is split once, here (in the preparing process of a big load): contacts and the rest
    phones = [customer_phones(*texts) for texts in frame[list(PHONE_COLUMNS)].itertuples(index=False, name=None)]
    frame["phone_contacts"] = pd.Series([contacts for contacts, _ in phones], index=frame.index, dtype=object)
    frame["phones_invalid"] = pd.Series([", ".join(invalid) or None for _, invalid in phones], index=frame.index,
                                        dtype=object)
    any_phone = frame[list(PHONE_COLUMNS)].notna().any(axis=1)
    frame["phones_ok"] = (frame["phones_invalid"].isna()).where(any_phone, None)
    policy = settings(ctx.config).kind_policy
    frame["kind"] = frame["register_code"].map(lambda c: _kind(c, policy))

    template = Template.parse(settings(ctx.config).customer_number_template)

    def number_of(code: str | None) -> str | None:
        if not code:
            return None
        try:
            return template.format(company_code=ctx.company.code, AN=code)
        except (TemplateError, ValueError, TypeError):
            return None

    frame["customer_number"] = frame["customer_code"].map(number_of)
    frame["number_ok"] = frame["customer_number"].notna().where(frame["customer_code"].notna(), None)
    frame[KEY] = frame["customer_code"].where(frame["customer_code"].notna(),
                                              NO_CODE + frame[ROW_ID].astype(str))
    frame[DISPLAY] = frame["customer_code"].where(frame["customer_code"].notna(), "with no code")

    limits = ctx.config.limits
    frame["description"] = frame["description"].map(
        lambda text: truncate(text, limits.free_text, limits.truncation_marker))
    fields = [(label, getattr(limits, limit)) for label, limit in LIMITED_COLUMNS.values()]
    frame[TOO_LONG] = pd.Series(
        [too_long((label, value, limit) for (label, limit), value in zip(fields, values, strict=True))
         for values in frame[list(LIMITED_COLUMNS)].itertuples(index=False, name=None)],
        index=frame.index, dtype=object)
    return frame


HASH_COLUMNS = ("customer_code", *TEXT_COLUMNS, "register_code", "economic_code", "postal_code",
                *PHONE_COLUMNS, "kind")


def _payloads(row: dict[str, Any], ctx: SyncContext) -> dict[str, dict[str, Any]]:
    section = settings(ctx.config)
    code = row["register_code"] or ""
    common: dict[str, Any] = {
        "customerNumber": row["customer_number"],
        "refId": f"tadbir:{ctx.company.code}:{row['customer_code']}",
        "nickName": row["name"],
        "email": row["email"],
        "description": row["description"],
        "phoneContacts": row["phone_contacts"],
        "categories": [{"key": section.category_key}] if section.category_key else [],
        "economicCode": row["economic_code"],
    }
    if section.transfer_address and (row["address"] or row["city"] or row["province"]):
        common["addressContacts"] = [{
            "country": "ایران", "state": row["province"], "city": row["city"], "address": row["address"],
            "zipCode": row["postal_code"], "addressType": "سایر", "default": True,
        }]
    else:
        common["addressContacts"] = []
    person = {**common, "crmObjectTypeCode": section.person_type_code,
              # legacy Tadbir keeps one Name column: the whole name is the last name, nothing invented
              "firstName": "", "lastName": row["name"],
              "nationalCode": code if len(code) == 10 else None}
    organization = {**common, "crmObjectTypeCode": section.organization_type_code,
                    "nationalCode": code if len(code) == 11 else None,
                    "registerNumber": code if code and len(code) not in (10, 11) else None}
    return {"person": person, "organization": organization}


def payload(row: dict[str, Any], ctx: SyncContext, refs: Refs) -> Payload:
    return Payload(f"customer {row['customer_number']}", row["kind"], row["customer_number"], _payloads(row, ctx))


class IdentityTarget:
    """Upsert by key: known CRM id → update; else adopt the identity holding the customer number;
    else create. The kind the CRM already has wins (a kind change in Tadbir is not applied)."""

    def upsert(self, client: PayamgostarClient, item: LoadItem, known: RecordState | None, *,
               look_first: bool = True) -> Outcome:
        if in_crm(known):
            kind = known.crm_kind or item.kind
            try:
                client.update_identity(kind, known.crm_id, item.payloads[kind], record=item.label)
                return Outcome("updated", known.crm_id, kind)
            except NotFound:
                look_first = True  # deleted in the CRM meanwhile: adopt or create it again below
        kinds = (item.kind, *(k for k in ("person", "organization") if k != item.kind))
        if not look_first:
            try:
                crm_id = client.create_identity(item.kind, item.payloads[item.kind], record=item.label)
                return Outcome("created", crm_id, item.kind)
            except RecordRejected:  # the CRM may hold the number already (typed in by hand): adopt that one
                found = client.find_identity_by_customer_number(item.number, kinds=kinds, record=item.label)
                if found is None:
                    raise
        else:
            found = client.find_identity_by_customer_number(item.number, kinds=kinds, record=item.label)
        if found is not None:
            kind, record = found
            crm_id = record["crmId"]
            client.update_identity(kind, crm_id, item.payloads[kind], record=item.label)
            return Outcome("adopted", crm_id, kind)
        crm_id = client.create_identity(item.kind, item.payloads[item.kind], record=item.label)
        return Outcome("created", crm_id, item.kind)

    def delete(self, client: PayamgostarClient, known: RecordState) -> Outcome:
        if not known.crm_id:
            return Outcome("gone", None, known.crm_kind)
        try:
            client.delete_identity(known.crm_kind or "organization", known.crm_id,
                                   record=f"customer {known.crm_number or known.tadbir_key}")
        except NotFound:
            return Outcome("gone", known.crm_id, known.crm_kind)
        return Outcome("deleted", known.crm_id, known.crm_kind)


def admit(ctx: SyncContext, state: RecordState | None) -> str | None:
    """The system of record (reverse.identities.system_of_record) for Tadbir → CRM changes."""
    mode = ctx.config.reverse.identities.system_of_record
    if mode == "crm":
        return "the CRM is the system of record for identities: they are created and edited there"
    if mode == "per_record" and state is not None and state.origin == "crm":
        return "created in the CRM, which owns its edits"
    return None


IDENTITIES = EntitySpec(
    name="identities",
    label="customer",
    source=SOURCE,
    hash_columns=HASH_COLUMNS,
    checks=CHECKS,
    prepare=prepare,
    payload=payload,
    target=IdentityTarget(),
    sensitive_columns=frozenset({"register_code", "phones_invalid", "phone_text", "mobile_text", "fax_text"}),
    admit=admit,
    settings=IdentitiesSettings(),
)
