"""Request models and a strict JSON binder, like ASP.NET model binding with System.Text.Json.

A model is a table of camelCase fields with their C# types (§3.3 of the contract).
`bind()` matches keys case-insensitively, ignores unknown keys (as ASP.NET does), and
answers 400 naming the JSON path when a value has the wrong JSON type.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any

from pg_sandbox.dates import local_text, parse_client_date
from pg_sandbox.errors import bad_request

# Field kinds and the .NET type named in error messages.
_DOTNET = {
    "string": "System.String",
    "bool": "System.Boolean",
    "int": "System.Int32",
    "decimal": "System.Decimal",
    "datetime": "System.DateTime",
    "guid": "System.Guid",
    "strings": "System.String[]",
    "any": "System.Object",
}


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # a key of _DOTNET, or "list" / "object" with `model`
    nullable: bool = True
    model: "Model | None" = None


@dataclass
class Model:
    name: str
    fields: list[Field]
    by_lower: dict[str, Field] = field(init=False)

    def __post_init__(self) -> None:
        self.by_lower = {f.name.lower(): f for f in self.fields}

    def add(self, spec: Field) -> None:
        self.fields.append(spec)
        self.by_lower[spec.name.lower()] = spec

    def extended(self, name: str, fields: list[Field]) -> "Model":
        return Model(name, self.fields + fields)


def strings(*names: str) -> list[Field]:
    return [Field(n, "string") for n in names]


def list_of(name: str, model: "Model") -> Field:
    return Field(name, "list", model=model)


def bind(model: Model, data: Any, path: str = "$") -> dict[str, Any]:
    """Validate `data` against `model`; return only the keys sent, under their camelCase names."""
    if not isinstance(data, dict):
        raise _type_error(model.name, path)
    bound: dict[str, Any] = {}
    for key, value in data.items():
        spec = model.by_lower.get(str(key).lower())
        if spec is not None:
            bound[spec.name] = _bind_value(spec, value, f"{path}.{spec.name}")
    return bound


def _bind_value(spec: Field, value: Any, path: str) -> Any:
    if value is None:
        if not spec.nullable:
            raise _type_error(_DOTNET.get(spec.kind, spec.kind), path)
        return None
    if spec.kind == "list":
        if not isinstance(value, list):
            raise _type_error(f"List<{spec.model.name}>", path)
        return [bind(spec.model, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if spec.kind == "object":
        return bind(spec.model, value, path)
    return _scalar(spec.kind, value, path)


def _scalar(kind: str, value: Any, path: str) -> Any:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "any":
        return value
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "int" and is_number and float(value).is_integer() and abs(value) < 2**31:
        return int(value)
    if kind == "decimal" and is_number:
        return value
    if kind == "strings" and isinstance(value, list):
        for i, item in enumerate(value):
            if item is not None and not isinstance(item, str):
                raise _type_error("System.String", f"{path}[{i}]")
        return value
    if kind == "guid" and isinstance(value, str) and is_guid(value):
        return str(uuid.UUID(value))
    if kind == "datetime" and isinstance(value, str):
        try:
            # .NET re-serialises a DateTime: local time, no offset
            return local_text(parse_client_date(value))
        except ValueError:
            pass
    raise _type_error(_DOTNET[kind], path)


def is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _type_error(target: str, path: str):
    field_name = path.removeprefix("$.") if path != "$" else "request body"
    return bad_request(
        "invalid_type",
        f"The field '{field_name}' has an invalid value.",
        f"The JSON value could not be converted to {target}. Path: {path}",
    )


# ---- sub-models (§3.3, with the `id` keys of §3.3a) -------------------------------------

PHONE = Model(
    "IdentityContactPhoneCreateModel",
    [Field("id", "guid"), *strings("phoneType", "phoneNumber", "continuedNumber", "extension"),
     Field("default", "bool", nullable=False)],
)
ADDRESS = Model(
    "IdentityContactAddressCreateModel",
    [Field("id", "guid"),
     *strings("country", "state", "city", "addressType", "areaCode", "address", "zipCode", "zipBox"),
     Field("longitude", "decimal"), Field("latitude", "decimal"), Field("default", "bool", nullable=False)],
)
CATEGORY = Model("IdentityCategoryCreateModel", [Field("id", "guid"), *strings("key")])
EMPLOYEE = Model(
    "EmployeeCreateModel",
    [Field("id", "guid"),
     *strings("organizationId", "personId", "profession", "jobType", "office", "department")],
)
PREVIEW = Model("PreviewModel", [Field("name", "string"), Field("object", "any")])
EXTENDED_PROPERTY = Model(
    "ExtendedPorpertyCreateModel", [*strings("name", "value", "userKey"), Field("preview", "object", model=PREVIEW)]
)

# ---- identity create/update models -------------------------------------------------------

_IDENTITY_FIELDS = [
    Field("nickName", "string"),
    list_of("phoneContacts", PHONE),
    list_of("addressContacts", ADDRESS),
    *strings("email", "alternativeEmail", "website", "customerNumber"),
    Field("customerDate", "datetime"),
    Field("balance", "decimal"),
    list_of("categories", CATEGORY),
    *(Field(n, "bool") for n in ("dontSms", "dontSocialSms", "dontPhoneCall", "dontEmail", "dontFax")),
    *strings("supportUsername", "saleUsername", "otherUsername", "facebookUsername", "preferredContactType",
             "nationalCode", "economicCode"),
]
_CRM_OBJECT_FIELDS = [
    *strings("crmObjectTypeCode", "parentCrmObjectId"),
    list_of("extendedProperties", EXTENDED_PROPERTY),
    Field("tags", "strings"),
    *strings("refId", "stageId", "description", "subject", "identityId", "assignedToUserName"),
    Field("colorId", "int"),
    Field("sourceTypeIndex", "int"),
]

PERSON_CREATE = Model(
    "PersonCreateModel",
    [*strings("firstName", "lastName"),
     Field("birthDate", "datetime"),
     *strings("gender", "personPrefix", "degree", "paymentStatusType", "areasOfInterest", "mannerType",
              "spouse", "hobbies", "children"),
     list_of("organizations", EMPLOYEE),
     *_IDENTITY_FIELDS, *_CRM_OBJECT_FIELDS],
)
ORGANIZATION_CREATE = Model(
    "OrganizationCreateModel",
    [*strings("businessType", "registerNumber"),
     Field("registerDate", "datetime"),
     *strings("shareType", "trademark", "ownershipType", "tradeType"),
     Field("managerId", "guid"),
     list_of("employees", EMPLOYEE),
     *_IDENTITY_FIELDS, *_CRM_OBJECT_FIELDS],
)
CRM_ID = [Field("crmId", "guid")]
PERSON_UPDATE = PERSON_CREATE.extended("PersonUpdateModel", CRM_ID)
ORGANIZATION_UPDATE = ORGANIZATION_CREATE.extended("OrganizationUpdateModel", CRM_ID)

# get: GOPG's optional switches are accepted and ignored.
GET = Model("CrmObjectGetModel", [
    Field("id", "guid"),
    *(Field(n, "bool") for n in ("showPreviews", "showExtendedPreviews", "includeProcessLifePaths",
                                 "includeColor", "includeTags", "includeListFields")),
])
DELETE = Model("CrmObjectDeleteModel", [Field("id", "guid"), Field("option", "int")])

# ---- find (§3.6) --------------------------------------------------------------------------

FIND_QUERY = Model("CrmObjectFindQueryModel", [
    Field("logicalOperator", "int", nullable=False),
    Field("field", "string"),
    Field("operator", "int", nullable=False),
    Field("value", "string"),
    Field("leafLogicalOperator", "int"),
    Field("leafNegate", "bool", nullable=False),
    Field("fieldOperator", "any"),
])
FIND_QUERY.add(list_of("leafs", FIND_QUERY))  # groups nest
FIND_ORDER = Model("CrmObjectFindOrderModel", [Field("field", "string"), Field("order", "int", nullable=False)])
FIND_SELECT = Model("CrmObjectFindSelectFieldModel", [
    Field("includeAll", "bool", nullable=False), Field("name", "string"), Field("fields", "strings")])
FIND = Model("CrmObjectFindModel", [
    Field("typeKey", "string"),
    list_of("queries", FIND_QUERY),
    list_of("orders", FIND_ORDER),
    list_of("selectFields", FIND_SELECT),
    Field("pageNumber", "int"),
    Field("pageSize", "int"),
])

# ---- identity search (§3.5) and login (§2.1) ----------------------------------------------

IDENTITY_SEARCH = Model("IdentitySearchModel", [
    Field("pageNumber", "int"), Field("pageSize", "int"), Field("searchTerm", "string"),
    Field("identityType", "int"),
])
LOGIN = Model("LoginModel", [
    *strings("username", "password", "deviceId"),
    Field("platformType", "int"),
    *strings("os", "osVersion", "token"),
])

# ---- sales and purchase invoices (§3.3 InvoiceCreateModel, InvoiceDetailModel) ------------

INVOICE_DETAIL = Model("InvoiceDetailModel", [
    *strings("productCode", "productId", "productName"),
    Field("isService", "bool", nullable=False),
    *(Field(n, "decimal", nullable=False)
      for n in ("baseUnitPrice", "finalUnitPrice", "count", "returnedCount", "totalUnitPrice")),
    Field("serial", "string"),
    *(Field(n, "decimal", nullable=False) for n in ("totalDiscount", "totalVat", "totalToll")),
    Field("discountPercent", "decimal"),
    *strings("detailDescription", "inventoryName", "inventoryCode", "productUnitTypeName"),
])
SALES_INVOICE_CREATE = Model("SalesInvoiceCreateModel", [
    Field("priceListName", "string"),
    *(Field(n, "decimal", nullable=False) for n in ("discount", "vat", "toll")),
    Field("additionalCosts", "decimal"),
    Field("totalValue", "decimal", nullable=False),
    Field("invoiceDate", "datetime"),
    Field("expireDate", "datetime"),
    Field("vatPercent", "int", nullable=False),
    Field("tollPercent", "int", nullable=False),
    list_of("details", INVOICE_DETAIL),
    Field("discountPercent", "decimal"),
    Field("totalDiscountPercent", "decimal", nullable=False),
    Field("finalValue", "decimal", nullable=False),
    Field("number", "string"),
    # the common CRM-object block; the ids are GUIDs, as the SOAP contract types them
    Field("crmObjectTypeCode", "string"),
    Field("parentCrmObjectId", "guid"),
    list_of("extendedProperties", EXTENDED_PROPERTY),
    Field("tags", "strings"),
    Field("refId", "string"),
    Field("stageId", "guid"),
    *strings("description", "subject", "identityId", "assignedToUserName"),
    Field("relatedQuoteId", "guid"),
])
SALES_INVOICE_UPDATE = SALES_INVOICE_CREATE.extended("SalesInvoiceUpdateModel", CRM_ID)
# the SDK's PurchaseInvoiceCreateModel is the same InvoiceCreateModel plus RelatedQuoteId
PURCHASE_INVOICE_CREATE = SALES_INVOICE_CREATE.extended("PurchaseInvoiceCreateModel", [])
PURCHASE_INVOICE_UPDATE = PURCHASE_INVOICE_CREATE.extended("PurchaseInvoiceUpdateModel", CRM_ID)
