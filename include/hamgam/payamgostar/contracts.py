"""The CRM's SOAP data contracts and operations, as data.

Why data and not classes: WCF's DataContractSerializer reads members strictly in schema order and
silently drops what comes out of order, so the order *is* the contract. Keeping it in one table,
copied member for member from the vendor XSDs (shared/reference/payamgostar-wsdl/I*_1.xsd; §4.4 of
payamgostar-api.md), lets one small codec (soap.py) write and read every contract, and lets a test
compare this table with the XSDs themselves.

Notation of a member line: ``Name type`` where type is a scalar (string, decimal, int, bool,
dateTime, guid), an enum (Gp_InvoiceType, CrmObjectDeleteOption), a contract name, or ``X[]``
for an array of X (``string[]`` is WCF's ArrayOfstring). A trailing ``!`` marks a non-nillable
element (a .NET value type): it may be omitted, but never sent as xsi:nil.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SCALARS = frozenset({"string", "decimal", "int", "bool", "dateTime", "guid"})
ENUMS: dict[str, tuple[str, ...]] = {
    "Gp_InvoiceType": ("Invoice", "Quote"),  # IInvoice_4.xsd
    "CrmObjectDeleteOption": ("AssignChildrenToParent", "DeleteChildren", "Nothing", "DeletePersons",
                              "DeleteWithHistory"),  # IInvoice_4.xsd / IPayment_4.xsd
    # ICrmObjectType_1.xsd, in index order from 1 (§5.1)
    "CrmObjectTypes": ("Opportunity", "Task", "PhoneLog", "BusinessNote", "Invoice", "File", "FollowUp", "Quote",
                       "Receipt", "Appointment", "Contract", "Notification", "Form", "Ticket", "PurchaseInvoice",
                       "ReturnPurchaseInvoice", "ReturnSaleInvoice", "PurchaseQuote", "EnterInventoryTransaction",
                       "ExitInventoryTransaction", "InitialStockInventoryTransaction",
                       "DisposeInventoryTransaction", "Payment", "Identity"),
}
FLAG_ENUMS = frozenset({"CrmObjectDeleteOption", "CrmObjectTypes"})  # xs:list in the XSD: space-separated names
# CrmObjectTypeIndex (an int in BaseCrmObjectInfo) -> its CrmObjectTypes name (§5.1)
TYPE_INDEX_NAMES = {n: name for n, name in enumerate(ENUMS["CrmObjectTypes"], start=1)}  # an xs:list in the XSD: space-separated names


@dataclass(frozen=True)
class Member:
    name: str
    type: str
    nillable: bool = True

    @property
    def is_array(self) -> bool:
        return self.type.endswith("[]")

    @property
    def item_type(self) -> str:
        return self.type[:-2] if self.is_array else self.type


@dataclass(frozen=True)
class Contract:
    name: str
    members: tuple[Member, ...]
    _by_name: dict[str, Member] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {m.name: m for m in self.members})

    def member(self, name: str) -> Member | None:
        return self._by_name.get(name)


@dataclass(frozen=True)
class Operation:
    service: str
    name: str
    params: tuple[Member, ...]  # after the credentials
    result: str  # the contract of <Op>Result
    user_element: str = "userName"  # the user-name element's casing differs per operation (§2.3)


def _members(spec: str) -> tuple[Member, ...]:
    members = []
    for line in spec.strip().splitlines():
        name, type_ = line.split()
        members.append(Member(name, type_.rstrip("!"), nillable=not type_.endswith("!")))
    return tuple(members)


CONTRACTS: dict[str, Contract] = {}


def _contract(name: str, spec: str, base: str | None = None) -> None:
    inherited = CONTRACTS[base].members if base else ()  # WCF writes base members first
    CONTRACTS[name] = Contract(name, inherited + _members(spec))


# -- CRM object base blocks (IInvoice_1.xsd / IPayment_1.xsd) -----------------------------------
_contract("BaseCrmObjectExtendedPropertyInfo", """
    Name string
    UserKey string
    Value string
""")
_contract("BaseCrmObjectInfo", """
    CreatDate dateTime!
    CrmId guid
    CrmObjectTypeCode string
    CrmObjectTypeId guid!
    CrmObjectTypeIndex int!
    CrmObjectTypeName string
    ExtendedProperties BaseCrmObjectExtendedPropertyInfo[]
    ModifyDate dateTime!
    ParentCrmObjectId guid
    ProcessStateIndex int
    RefId string
    Stage string
    StageId guid
    Tags string[]
""")
_contract("GeneralCrmObjectInfo", """
    Description string
    IdentityId guid
    Subject string
""", base="BaseCrmObjectInfo")
_contract("BaseBillableObjectInfo", """
    BillableObjectState string
    FinalValue decimal!
    Number string
""", base="GeneralCrmObjectInfo")

# -- products (IProduct_1.xsd) ------------------------------------------------------------------
_contract("PriceListProductInfo", """
    Amount decimal!
    PricingType string
    ProductCode string
    ProductId guid
""")
_contract("PriceListInfo", """
    InvoiceType string
    Name string
    PriceListProducts PriceListProductInfo[]
""")
_contract("ProductInfo", """
    Brand string
    BuyAble bool
    Code string
    CommisionType string
    Commission decimal
    Description string
    GroupId guid
    GroupName string
    Id guid
    Inventory bool
    IsActiveOrderPoint bool
    IsCommission bool
    IsService bool
    MadeIn string
    MinimumAmount decimal
    Name string
    PriceListInfo PriceListInfo[]
    ProductUnitType string
    RefId string
    Sellable bool
    Taxable bool
    TechInfo string
    Tollable bool!
    UnitBuyPrice decimal
    UnitPrice decimal
""")

# -- invoices, quotes and sales returns (IInvoice_1.xsd) ----------------------------------------
_contract("InvoiceDetailInfo", """
    BaseUnitPrice decimal!
    Count decimal!
    DetailDescription string
    DiscountPercent decimal
    FinalUnitPrice decimal!
    Id int!
    InventoryCode string
    InventoryName string
    InvoiceProperty0 string
    InvoiceProperty1 string
    InvoiceProperty10 string
    InvoiceProperty2 string
    InvoiceProperty3 string
    InvoiceProperty4 string
    InvoiceProperty5 string
    InvoiceProperty6 string
    InvoiceProperty7 string
    InvoiceProperty8 string
    InvoiceProperty9 string
    IsService bool!
    ProductCode string
    ProductId guid
    ProductName string
    ProductUnitTypeName string
    ReturnedCount decimal!
    Serial string
    TotalDiscount decimal!
    TotalToll decimal!
    TotalUnitPrice decimal!
    TotalVat decimal!
""")
_contract("InvoiceInfo", """
    AdditionalCosts decimal
    AssignedTo string
    AssignedToId guid
    Details InvoiceDetailInfo[]
    Discount decimal!
    DiscountPercent decimal
    ExpireDate dateTime
    InvoiceDate dateTime
    InvoiceType string
    PriceListName string
    QuoteId guid
    Toll decimal!
    TollPercent int!
    TotalDiscountPercent decimal!
    TotalValue decimal!
    Vat decimal!
    VatPercent int!
""", base="BaseBillableObjectInfo")
_contract("RelatedInvoiceInfo", """
    RelatedInvoiceId guid
    RelatedInvoiceNumber string
    RelatedInvoiceTypeCode string
""")
_contract("RelatedReturnInvoiceDetailInfo", """
    RelatedInvoiceInfo RelatedInvoiceInfo
    ReturnedCount decimal!
""")
_contract("ReturnInvoiceDetailInfo", """
    BaseUnitPrice decimal!
    Count decimal!
    DetailDescription string
    DiscountCount decimal
    FinalUnitPrice decimal!
    Id int!
    InvoiceProperty0 string
    InvoiceProperty1 string
    InvoiceProperty10 string
    InvoiceProperty2 string
    InvoiceProperty3 string
    InvoiceProperty4 string
    InvoiceProperty5 string
    InvoiceProperty6 string
    InvoiceProperty7 string
    InvoiceProperty8 string
    InvoiceProperty9 string
    ProductCode string
    ProductName string
    RelatedInvoices RelatedReturnInvoiceDetailInfo[]
    Serial string
    TotalDiscount decimal!
    TotalToll decimal!
    TotalUnitPrice decimal!
    TotalVat decimal!
""")
_contract("ReturnInvoiceInfo", """
    AdditionalCosts decimal!
    Details ReturnInvoiceDetailInfo[]
    Discount decimal!
    DiscountPercent decimal
    InvoiceDate dateTime
    InvoiceType string
    Toll decimal!
    TollPercent int!
    TotalValue decimal!
    Vat decimal!
    VatPercent int!
""", base="BaseBillableObjectInfo")

# -- receipts and payments (IPayment_1.xsd) -----------------------------------------------------
_contract("PaymentInfo", """
    BranchCode string
    ChequeBank string
    ChequeNo string
    CrmPaymentType string
    IsPayed bool
    MoneyAccount string
    PayDate dateTime
    PaymentMethod string
    PaymentType string
    ReceiptCardNo string
    RefNo string
    RelatedInvoiceNumber RelatedInvoiceInfo
    SettledDate dateTime
""", base="BaseBillableObjectInfo")

# -- results ------------------------------------------------------------------------------------
_contract("OperationResult", """
    Message string
    Success bool!
""")
_contract("SaveCrmObjectResult", "CrmId guid!", base="OperationResult")
_contract("ProductInfoResult", "ProductInfoList ProductInfo[]", base="OperationResult")
_contract("InvoiceInfoResult", """
    InvoiceInfo InvoiceInfo
    InvoiceInfoList InvoiceInfo[]
""", base="OperationResult")
_contract("PaymentInfoResult", """
    PaymentInfo PaymentInfo
    PaymentInfoList PaymentInfo[]
""", base="OperationResult")

# -- CRM object subtypes (ICrmObjectType_1.xsd) -------------------------------------------------
_contract("CrmObjectTypeBasicInfo", """
    CreateByCustomer bool!
    CrmObjectType CrmObjectTypes!
    Id guid!
    IsAbstract bool!
    IsActive bool!
    IsUnderProcess bool!
    Name string
    OwnerId guid
    ParentId guid
    ShowToCustomer bool!
    UserKey string
""")
_contract("CrmObjectTypeListInfo", "CrmObjectTypeList CrmObjectTypeBasicInfo[]", base="OperationResult")
_contract("PropertyDefinitionValueInfo", """
    Id guid!
    Index int!
    ParentId guid
    Value string
""")
_contract("PropertyDefinitionInfo", """
    Id guid!
    Key string
    Name string
    PropertyDisplayType PropertyDisplayType
    UserKey string
    Values PropertyDefinitionValueInfo[]
""")
_contract("PropertyGroupInfo", """
    DisplayIndex int!
    Id long!
    Name string
    Properties PropertyDefinitionInfo[]
""")
_contract("CrmObjectTypeInfo", """
    Message string
    PropertyGroups PropertyGroupInfo[]
    Success bool!
""", base="CrmObjectTypeBasicInfo")


# -- operations (I<Service>.xsd; parameter order is exact, §4.3) ---------------------------------
def _ops(service: str, table: str, user_element: str = "userName") -> dict[str, Operation]:
    ops = {}
    for line in table.strip().splitlines():
        name, params, result = (part.strip() for part in line.split("|"))
        members = tuple(_members("\n".join(p.strip().replace(":", " ") for p in params.split(",") if p.strip())))
        ops[name] = Operation(service, name, members, result, user_element)
    return ops


OPERATIONS: dict[str, Operation] = {
    **_ops("IProduct", """
        SaveProduct         | product:ProductInfo                  | SaveCrmObjectResult
        FindProductByCode   | code:string, groupName:string        | ProductInfoResult
        FindProductById     | id:guid!                             | ProductInfoResult
        DeleteProductByCode | code:string, groupName:string        | ProductInfoResult
    """),
    **_ops("IInvoice", """
        SaveInvoice                 | invoiceInfo:InvoiceInfo                                  | SaveCrmObjectResult
        SaveReturnInvoice           | returnInvoiceInfo:ReturnInvoiceInfo                      | SaveCrmObjectResult
        FindInvoiceByNumber         | number:string, invoiceType:Gp_InvoiceType!, typeCode:string | InvoiceInfoResult
        FindReturnInvoiceByNumber   | number:string, typeCode:string                           | InvoiceInfoResult
        DeleteInvoiceByNumber       | number:string, invoiceType:Gp_InvoiceType!, typeCode:string, deleteOption:CrmObjectDeleteOption! | InvoiceInfoResult
        DeleteReturnInvoiceByNumber | number:string, typeCode:string, deleteOption:CrmObjectDeleteOption! | InvoiceInfoResult
        DeleteInvoiceById           | invoiceId:guid!, deleteOption:CrmObjectDeleteOption!     | SaveCrmObjectResult
        FindQuoteById               | quoteId:guid!                                            | InvoiceInfoResult
        FindInvoiceById             | invoiceId:guid!                                          | InvoiceInfoResult
        FindReturnInvoiceById       | retInvoiceId:guid!                                       | InvoiceInfoResult
        FindPurchaseInvoiceById     | purchInvoiceId:guid!                                     | InvoiceInfoResult
        FindReturnPurchaseInvoiceById | retPurchInvoiceId:guid!                                | InvoiceInfoResult
        SearchQuote                 | typeKey:string, query:string                             | InvoiceInfoResult
        SearchInvoice               | typeKey:string, query:string                             | InvoiceInfoResult
        SearchPurchaseInvoice       | typeKey:string, query:string                             | InvoiceInfoResult
        SearchReturnSaleInvoice     | typeKey:string, query:string                             | InvoiceInfoResult
        SearchReturnPurchaseInvoice | typeKey:string, query:string                             | InvoiceInfoResult
    """),
    **_ops("IPayment", """
        SavePayment           | paymentInfo:PaymentInfo                              | SaveCrmObjectResult
        FindReceiptByNumber   | number:string, crmObjectTypeCode:string              | PaymentInfoResult
        FindPaymentByNumber   | number:string, crmObjectTypeCode:string              | PaymentInfoResult
        FindReceiptById       | receiptId:guid!                                      | PaymentInfoResult
        FindPaymentById       | paymentId:guid!                                      | PaymentInfoResult
        DeleteReceiptByNumber | number:string, deleteOption:CrmObjectDeleteOption!   | SaveCrmObjectResult
        DeletePaymentByNumber | number:string, deleteOption:CrmObjectDeleteOption!   | SaveCrmObjectResult
        DeletePaymentById     | crmId:guid!, deleteOption:CrmObjectDeleteOption!     | SaveCrmObjectResult
    """),
    **_ops("ICrmObjectType", """
        GetCrmObjectTypeList  | crmObjectTypeIndex:CrmObjectTypes    | CrmObjectTypeListInfo
        GetCrmObjectTypeInfo  | typeKeyOrId:string                   | CrmObjectTypeInfo
    """, user_element="username"),
}
