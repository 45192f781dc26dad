"""The SOAP/WCF contract the sandbox serves, as data (payamgostar-api.md §4.1-§4.4).

Transcribed from the vendor XSDs (IProduct*.xsd, IInvoice*.xsd, IPayment*.xsd) so the
sandbox needs no schema files at run time; tests/sandbox/test_sandbox_soap_contract.py
checks this table against the real XSDs whenever they are available.

- Every element is `minOccurs=0`; `nillable=False` marks the `!` elements of §4.3/§4.4.
- Members are listed in wire order: a complex type's `base` members first, then its own.
- Members of a type are in that type's namespace (`elementFormDefault="qualified"`);
  operation parameters are in http://tempuri.org/.
"""

from dataclasses import dataclass

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"
TEMPURI = "http://tempuri.org/"
DC = "http://schemas.datacontract.org/2004/07/Septa.PayamGostar.ServiceLayer.Contract.PGContracts.DataContracts"
SER = "http://schemas.microsoft.com/2003/10/Serialization/"
ARRAYS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
DOMAIN = "http://schemas.datacontract.org/2004/07/Septa.PayamGostar.Domain.Model"

ZERO_GUID = "00000000-0000-0000-0000-000000000000"

# Simple types: name -> namespace of the type (for the XSD check).
SIMPLE = {"string": XS, "boolean": XS, "decimal": XS, "int": XS, "long": XS, "dateTime": XS, "guid": SER}


@dataclass(frozen=True)
class Enum:
    name: str
    members: tuple[str, ...]
    is_list: bool  # a WCF [Flags] enum (xs:list): space-separated member names
    namespace: str = DOMAIN


ENUMS = {
    "Gp_InvoiceType": Enum("Gp_InvoiceType", ("Invoice", "Quote"), is_list=False),
    "CrmObjectDeleteOption": Enum(
        "CrmObjectDeleteOption",
        ("AssignChildrenToParent", "DeleteChildren", "Nothing", "DeletePersons", "DeleteWithHistory"),
        is_list=True,
    ),
    # ICrmObjectType_1.xsd, in index order from 1 (§5.1)
    "CrmObjectTypes": Enum(
        "CrmObjectTypes",
        ("Opportunity", "Task", "PhoneLog", "BusinessNote", "Invoice", "File", "FollowUp", "Quote", "Receipt",
         "Appointment", "Contract", "Notification", "Form", "Ticket", "PurchaseInvoice", "ReturnPurchaseInvoice",
         "ReturnSaleInvoice", "PurchaseQuote", "EnterInventoryTransaction", "ExitInventoryTransaction",
         "InitialStockInventoryTransaction", "DisposeInventoryTransaction", "Payment", "Identity"),
        is_list=True, namespace=DC,
    ),
    "PropertyDisplayType": Enum(
        "PropertyDisplayType",
        tuple("Text DropDownList Date Checkbox GeneralProperty Html File Number Currency Identity GregorianDate"
              " SecurityItem Invoice Quote Contract Receipt User Group Time Form ProductList"
              " InputInventoryTransaction Payment OutputInventoryTransaction RelatedLists Image Label AutoNumber"
              " WebService Excel Appointment Link PurchaseInvoice PurchaseQuote Position Department"
              " CrmObjectMultiValue TextMultiValue NumberMultiValue CurrencyMultiValue LinkMultiValue"
              " PersianDateMultiValue GregorianDateMultiValue FileMultiValue IdentityMultiValue"
              " SecurityItemMultiValue UserMultiValue GroupMultiValue PositionMultiValue DepartmentMultiValue"
              " PrimaryKey Stage Duration ContactAddress PriceList BankAccount Calendar Room Inventory"
              " InvoiceDetailContainer Classification InventoryTransactionDetailContainer CustomerNumber CrmObject"
              " MarketingCampaign Color".split()),
        is_list=True, namespace=DC,
    ),
}


@dataclass(frozen=True)
class Element:
    name: str
    type: str  # a SIMPLE, ENUMS or COMPLEX name
    nillable: bool = True
    repeated: bool = False  # maxOccurs="unbounded" (array items)


@dataclass(frozen=True)
class Complex:
    name: str
    own: tuple[Element, ...]
    base: str | None = None
    namespace: str = DC

    @property
    def item(self) -> Element | None:
        """The item element when this is an `ArrayOf...` type."""
        return self.own[0] if len(self.own) == 1 and self.own[0].repeated else None


def _elements(spec: str) -> tuple[Element, ...]:
    """'Name:type' items separated by spaces; a trailing '!' marks a non-nillable element."""
    result = []
    for item in spec.split():
        name, _, kind = item.partition(":")
        nillable = not kind.endswith("!")
        result.append(Element(name, kind.rstrip("!") or "string", nillable))
    return tuple(result)


def _array(name: str, item_type: str, namespace: str = DC) -> Complex:
    return Complex(name, (Element(item_type, item_type, nillable=True, repeated=True),), namespace=namespace)


def _invoice_properties() -> str:
    # ordinal order: InvoiceProperty10 sorts between 1 and 2
    return " ".join(f"InvoiceProperty{n}" for n in sorted(map(str, range(11))))


COMPLEX: dict[str, Complex] = {c.name: c for c in [
    Complex("OperationResult", _elements("Message Success:boolean!")),
    Complex("SaveCrmObjectResult", _elements("CrmId:guid!"), base="OperationResult"),
    Complex("ProductInfoResult", _elements("ProductInfoList:ArrayOfProductInfo"), base="OperationResult"),
    Complex("InvoiceInfoResult", _elements("InvoiceInfo:InvoiceInfo InvoiceInfoList:ArrayOfInvoiceInfo"),
            base="OperationResult"),
    Complex("PaymentInfoResult", _elements("PaymentInfo:PaymentInfo PaymentInfoList:ArrayOfPaymentInfo"),
            base="OperationResult"),
    # ---- products
    Complex("ProductInfo", _elements(
        "Brand BuyAble:boolean Code CommisionType Commission:decimal Description GroupId:guid GroupName Id:guid"
        " Inventory:boolean IsActiveOrderPoint:boolean IsCommission:boolean IsService:boolean MadeIn"
        " MinimumAmount:decimal Name PriceListInfo:ArrayOfPriceListInfo ProductUnitType RefId Sellable:boolean"
        " Taxable:boolean TechInfo Tollable:boolean! UnitBuyPrice:decimal UnitPrice:decimal")),
    _array("ArrayOfProductInfo", "ProductInfo"),
    Complex("PriceListInfo", _elements("InvoiceType Name PriceListProducts:ArrayOfPriceListProductInfo")),
    _array("ArrayOfPriceListInfo", "PriceListInfo"),
    Complex("PriceListProductInfo", _elements("Amount:decimal! PricingType ProductCode ProductId:guid")),
    _array("ArrayOfPriceListProductInfo", "PriceListProductInfo"),
    # ---- the CRM object blocks (§4.4)
    Complex("BaseCrmObjectInfo", _elements(
        "CreatDate:dateTime! CrmId:guid CrmObjectTypeCode CrmObjectTypeId:guid! CrmObjectTypeIndex:int!"
        " CrmObjectTypeName ExtendedProperties:ArrayOfBaseCrmObjectExtendedPropertyInfo ModifyDate:dateTime!"
        " ParentCrmObjectId:guid ProcessStateIndex:int RefId Stage StageId:guid Tags:ArrayOfstring")),
    Complex("BaseCrmObjectExtendedPropertyInfo", _elements("Name UserKey Value")),
    _array("ArrayOfBaseCrmObjectExtendedPropertyInfo", "BaseCrmObjectExtendedPropertyInfo"),
    _array("ArrayOfstring", "string", namespace=ARRAYS),
    Complex("GeneralCrmObjectInfo", _elements("Description IdentityId:guid Subject"), base="BaseCrmObjectInfo"),
    Complex("BaseBillableObjectInfo", _elements("BillableObjectState FinalValue:decimal! Number"),
            base="GeneralCrmObjectInfo"),
    # ---- invoices and quotes
    Complex("InvoiceInfo", _elements(
        "AdditionalCosts:decimal AssignedTo AssignedToId:guid Details:ArrayOfInvoiceDetailInfo Discount:decimal!"
        " DiscountPercent:decimal ExpireDate:dateTime InvoiceDate:dateTime InvoiceType PriceListName"
        " QuoteId:guid Toll:decimal! TollPercent:int! TotalDiscountPercent:decimal! TotalValue:decimal!"
        " Vat:decimal! VatPercent:int!"), base="BaseBillableObjectInfo"),
    _array("ArrayOfInvoiceInfo", "InvoiceInfo"),
    Complex("InvoiceDetailInfo", _elements(
        "BaseUnitPrice:decimal! Count:decimal! DetailDescription DiscountPercent:decimal FinalUnitPrice:decimal!"
        f" Id:int! InventoryCode InventoryName {_invoice_properties()} IsService:boolean! ProductCode"
        " ProductId:guid ProductName ProductUnitTypeName ReturnedCount:decimal! Serial TotalDiscount:decimal!"
        " TotalToll:decimal! TotalUnitPrice:decimal! TotalVat:decimal!")),
    _array("ArrayOfInvoiceDetailInfo", "InvoiceDetailInfo"),
    # ---- sales and purchase returns (saved as ReturnInvoiceInfo, read back as InvoiceInfo)
    Complex("ReturnInvoiceInfo", _elements(
        "AdditionalCosts:decimal! Details:ArrayOfReturnInvoiceDetailInfo Discount:decimal!"
        " DiscountPercent:decimal InvoiceDate:dateTime InvoiceType Toll:decimal! TollPercent:int!"
        " TotalValue:decimal! Vat:decimal! VatPercent:int!"), base="BaseBillableObjectInfo"),
    Complex("ReturnInvoiceDetailInfo", _elements(
        "BaseUnitPrice:decimal! Count:decimal! DetailDescription DiscountCount:decimal FinalUnitPrice:decimal!"
        f" Id:int! {_invoice_properties()} ProductCode ProductName"
        " RelatedInvoices:ArrayOfRelatedReturnInvoiceDetailInfo Serial TotalDiscount:decimal!"
        " TotalToll:decimal! TotalUnitPrice:decimal! TotalVat:decimal!")),
    _array("ArrayOfReturnInvoiceDetailInfo", "ReturnInvoiceDetailInfo"),
    Complex("RelatedReturnInvoiceDetailInfo", _elements("RelatedInvoiceInfo:RelatedInvoiceInfo ReturnedCount:decimal!")),
    _array("ArrayOfRelatedReturnInvoiceDetailInfo", "RelatedReturnInvoiceDetailInfo"),
    Complex("RelatedInvoiceInfo", _elements("RelatedInvoiceId:guid RelatedInvoiceNumber RelatedInvoiceTypeCode")),
    # ---- receipts and payments
    Complex("PaymentInfo", _elements(
        "BranchCode ChequeBank ChequeNo CrmPaymentType IsPayed:boolean MoneyAccount PayDate:dateTime"
        " PaymentMethod PaymentType ReceiptCardNo RefNo RelatedInvoiceNumber:RelatedInvoiceInfo"
        " SettledDate:dateTime"), base="BaseBillableObjectInfo"),
    _array("ArrayOfPaymentInfo", "PaymentInfo"),
    # ---- CRM object subtypes (ICrmObjectType)
    Complex("CrmObjectTypeBasicInfo", _elements(
        "CreateByCustomer:boolean! CrmObjectType:CrmObjectTypes! Id:guid! IsAbstract:boolean! IsActive:boolean!"
        " IsUnderProcess:boolean! Name OwnerId:guid ParentId:guid ShowToCustomer:boolean! UserKey")),
    _array("ArrayOfCrmObjectTypeBasicInfo", "CrmObjectTypeBasicInfo"),
    Complex("CrmObjectTypeListInfo", _elements("CrmObjectTypeList:ArrayOfCrmObjectTypeBasicInfo"),
            base="OperationResult"),
    Complex("CrmObjectTypeInfo", _elements("Message PropertyGroups:ArrayOfPropertyGroupInfo Success:boolean!"),
            base="CrmObjectTypeBasicInfo"),
    Complex("PropertyGroupInfo", _elements("DisplayIndex:int! Id:long! Name Properties:ArrayOfPropertyDefinitionInfo")),
    _array("ArrayOfPropertyGroupInfo", "PropertyGroupInfo"),
    Complex("PropertyDefinitionInfo", _elements(
        "Id:guid! Key Name PropertyDisplayType:PropertyDisplayType UserKey Values:ArrayOfPropertyDefinitionValueInfo")),
    _array("ArrayOfPropertyDefinitionInfo", "PropertyDefinitionInfo"),
    Complex("PropertyDefinitionValueInfo", _elements("Id:guid! Index:int! ParentId:guid Value")),
    _array("ArrayOfPropertyDefinitionValueInfo", "PropertyDefinitionValueInfo"),
]}


@dataclass(frozen=True)
class Operation:
    service: str
    name: str
    params: tuple[Element, ...]  # after userName, password
    result: str  # the complex type of <Op>Result
    user_element: str = "userName"  # ICrmObjectType spells it "username" (§4.3)

    @property
    def action(self) -> str:
        return f"{TEMPURI}{self.service}/{self.name}"

    @property
    def wrapper(self) -> tuple[Element, ...]:
        """Every child of the request wrapper element, in order (credentials first)."""
        return (Element(self.user_element, "string"), Element("password", "string"), *self.params)

    @property
    def is_write(self) -> bool:
        return self.name.startswith(("Save", "Delete"))


def _operations(service: str, table: str, user_element: str = "userName") -> dict[str, Operation]:
    """One 'Name(param:type ...) -> Result' per line."""
    ops = {}
    for line in filter(None, (raw.strip() for raw in table.splitlines())):
        head, _, result = line.partition("->")
        name, _, params = head.strip().partition("(")
        ops[name] = Operation(service, name, _elements(params.rstrip(") ")), result.strip(), user_element)
    return ops


# The operations the sandbox serves (a subset of each service, §4.3).
OPERATIONS: dict[str, dict[str, Operation]] = {
    "IProduct": _operations("IProduct", """
        SaveProduct(product:ProductInfo) -> SaveCrmObjectResult
        FindProductByCode(code groupName) -> ProductInfoResult
        FindProductByName(name groupName) -> ProductInfoResult
        FindProductById(id:guid!) -> ProductInfoResult
        DeleteProductByCode(code groupName) -> ProductInfoResult
        DeleteProductById(productId:guid!) -> ProductInfoResult
    """),
    "IInvoice": _operations("IInvoice", """
        SaveInvoice(invoiceInfo:InvoiceInfo) -> SaveCrmObjectResult
        SaveReturnInvoice(returnInvoiceInfo:ReturnInvoiceInfo) -> SaveCrmObjectResult
        FindInvoiceById(invoiceId:guid!) -> InvoiceInfoResult
        FindQuoteById(quoteId:guid!) -> InvoiceInfoResult
        FindReturnInvoiceById(retInvoiceId:guid!) -> InvoiceInfoResult
        FindPurchaseInvoiceById(purchInvoiceId:guid!) -> InvoiceInfoResult
        FindReturnPurchaseInvoiceById(retPurchInvoiceId:guid!) -> InvoiceInfoResult
        FindInvoiceByNumber(number invoiceType:Gp_InvoiceType! typeCode) -> InvoiceInfoResult
        FindReturnInvoiceByNumber(number typeCode) -> InvoiceInfoResult
        DeleteInvoiceById(invoiceId:guid! deleteOption:CrmObjectDeleteOption!) -> SaveCrmObjectResult
        DeleteInvoiceByNumber(number invoiceType:Gp_InvoiceType! typeCode deleteOption:CrmObjectDeleteOption!) -> InvoiceInfoResult
        DeleteReturnInvoiceByNumber(number typeCode deleteOption:CrmObjectDeleteOption!) -> InvoiceInfoResult
        GetInvoicesByIdentityId(identityId:guid!) -> InvoiceInfoResult
        SearchQuote(typeKey query) -> InvoiceInfoResult
        SearchPurchaseInvoice(typeKey query) -> InvoiceInfoResult
        SearchReturnPurchaseInvoice(typeKey query) -> InvoiceInfoResult
        SearchReturnSaleInvoice(typeKey query) -> InvoiceInfoResult
    """),
    "IPayment": _operations("IPayment", """
        SavePayment(paymentInfo:PaymentInfo) -> SaveCrmObjectResult
        FindReceiptByNumber(number crmObjectTypeCode) -> PaymentInfoResult
        FindPaymentByNumber(number crmObjectTypeCode) -> PaymentInfoResult
        FindReceiptById(receiptId:guid!) -> PaymentInfoResult
        FindPaymentById(paymentId:guid!) -> PaymentInfoResult
        DeleteReceiptByNumber(number deleteOption:CrmObjectDeleteOption!) -> SaveCrmObjectResult
        DeletePaymentByNumber(number deleteOption:CrmObjectDeleteOption!) -> SaveCrmObjectResult
        DeletePaymentById(crmId:guid! deleteOption:CrmObjectDeleteOption!) -> SaveCrmObjectResult
    """),
    "ICrmObjectType": _operations("ICrmObjectType", """
        GetCrmObjectTypeList(crmObjectTypeIndex:CrmObjectTypes) -> CrmObjectTypeListInfo
        GetCrmObjectTypeInfo(typeKeyOrId) -> CrmObjectTypeInfo
    """, user_element="username"),
}
SERVICES = tuple(OPERATIONS)


def members(type_name: str) -> tuple[Element, ...]:
    """All members of a complex type in wire order, base members first."""
    spec = COMPLEX[type_name]
    return (members(spec.base) if spec.base else ()) + spec.own


def type_namespace(type_name: str) -> str:
    if type_name in SIMPLE:
        return SIMPLE[type_name]
    if type_name in ENUMS:
        return ENUMS[type_name].namespace
    return COMPLEX[type_name].namespace
