"""The Payamgostar side of ``hamgam check``: the REST login and one SOAP call, the settings' type codes against
the CRM's own (``ICrmObjectType``), and one harmless read per endpoint hamgam uses — a find by a number no
record can have, per entity the company syncs, its answer's shape checked by the client as in a sync.

The CRM is one for every company (``sync.crm_conn_id``): its login is checked once, its answers to the
type-code list cached; each company's table shows the rows of the entities it syncs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hamgam.check.report import Row, fail, ok, skip, warn
from hamgam.payamgostar.errors import AuthError, PayamgostarError, RecordRejected, UnexpectedAnswer
from hamgam.settings import CompanyConfig, EntitySettings, HamgamConfig

if TYPE_CHECKING:
    from hamgam.entities.base import EntitySpec
    from hamgam.payamgostar.client import PayamgostarClient

# a number and a product code no numbering template writes: each find must answer "none"
PROBE_NUMBER = "hamgam-check-0"
# The CrmObjectTypes name (payamgostar-api §5.1) each entity's type codes belong to, and a type code being a
# listed type's ``UserKey`` (§4.3: "map subtype codes to ids"). Both read from the vendor's contract, not yet
# seen on a real CRM's answer: a wrong pairing makes only this check's row wrong (an unknown code ✗), never a
# sync; the find rows below, which pass the same codes, say whether the CRM takes them.
TYPE_INDEX = {"identities": "Identity", "quotes": "Quote", "sales_invoices": "Invoice",
              "sales_returns": "ReturnSaleInvoice", "purchase_invoices": "PurchaseInvoice",
              "purchase_returns": "ReturnPurchaseInvoice", "receipts": "Receipt", "payments": "Payment"}


def type_codes(config: HamgamConfig, entity: str) -> dict[str, str]:
    """The CRM type codes of ``entity``'s settings: every field named ``*type_code`` (``type_code``,
    ``person_type_code`` ...), by field name."""
    settings = config.entity_settings(entity, EntitySettings).model_dump()
    return {name: str(value) for name, value in settings.items() if name.endswith("type_code") and value}


def listed_types(client: PayamgostarClient, index_name: str) -> list[dict]:
    """The CRM's object types of one CrmObjectTypes index (``ICrmObjectType/GetCrmObjectTypeList``)."""
    return list(client.crm_object_types(index_name))


def compare_type_code(check: str, setting: str, code: str, listed: list[dict]) -> Row:
    """``code`` (settings field ``setting``) among the CRM's types of its index: their ``UserKey``."""
    keys = {str(t.get("UserKey") or ""): t for t in listed}
    known = ", ".join(sorted(k for k in keys if k)) or "none"
    found = keys.get(code)
    if found is None:
        near = [k for k in keys if k.casefold() == code.casefold()]
        fix = (f"set {setting} to {near[0]!r} (the CRM's spelling)" if near else
               f"set {setting} to one of the CRM's type codes ({known}), or create type {code!r} in the CRM")
        return fail(check, f"{code!r} is not a type code of the CRM (it has: {known})", fix)
    if found.get("IsActive") is False:
        return warn(check, f"{code!r} exists but is inactive in the CRM",
                    f"activate type {code!r} in the CRM, or set {setting} to an active one")
    return ok(check, f"{code!r} ({found.get('Name') or 'no name'})")


class CrmChecks:
    """The CRM rows; ``connect()`` gives the client the DAGs use (the hook of ``sync.crm_conn_id``)."""

    def __init__(self, config: HamgamConfig, connect: Callable[[], PayamgostarClient],
                 conn_id: str | None = None, connection: str | None = None) -> None:
        self.config, self.connect = config, connect
        self.conn_id = conn_id or config.sync.crm_conn_id
        # how fixes name the connection (the connection form's test runs under a transient id)
        self.connection = connection or f"the Airflow connection {self.conn_id!r}"
        self._client: PayamgostarClient | None = None
        self._login: list[Row] | None = None
        self._types: dict[str, list[dict] | PayamgostarError] = {}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    @property
    def _fix_login(self) -> str:
        return f"set login and password of {self.connection} to the CRM integration user's"

    @property
    def _fix_reach(self) -> str:
        return f"check the host (and port, scheme) of {self.connection} and that the CRM answers"

    def _error_row(self, check: str, exc: Exception, fix: str) -> Row:
        if isinstance(exc, AuthError):
            return fail(check, str(exc), self._fix_login)
        if isinstance(exc, UnexpectedAnswer):
            return fail(check, str(exc), "the CRM answered outside the vendor's contract: check its version, "
                                         "and any proxy or login page in front of it")
        if isinstance(exc, RecordRejected):
            return fail(check, str(exc), fix)
        return fail(check, str(exc) or type(exc).__name__, self._fix_reach)

    def login_rows(self) -> list[Row]:
        """REST login and one SOAP call (which carries the user name and password itself); once."""
        if self._login is not None:
            return self._login
        rows: list[Row] = []
        try:
            self._client = self.connect()
        except Exception as exc:  # no such connection, no host
            self._login = [fail(f"crm: connection {self.conn_id}", str(exc), f"define the Airflow connection "
                                f"{self.conn_id!r} (README, \"Pointing hamgam at a real Payamgostar\")")]
            return self._login
        client = self._client
        check = "crm: REST login (auth/login)"
        try:
            client.login()
            rows.append(ok(check, f"token for {client._username!r} at {client.base_url}"))
        except Exception as exc:
            rows.append(self._error_row(check, exc, self._fix_login))
        check = "crm: SOAP call (IProduct/FindProductByCode)"
        try:
            client.find_product_by_code(PROBE_NUMBER)
            rows.append(ok(check, "answered with the user name and password"))
        except Exception as exc:
            fix = self._fix_login if "password" in str(exc).lower() else self._fix_reach
            rows.append(self._error_row(check, exc, fix))
        self._login = rows
        return rows

    @property
    def logged_in(self) -> bool:
        return self._login is not None and all(row.status == "ok" for row in self._login)

    def rows(self, company: CompanyConfig) -> list[Row]:
        """The login rows, then the type codes and finds of the entities ``company`` syncs."""
        from hamgam.entities import SPECS

        return self.entity_rows([name for name in SPECS if self.config.syncs(company, name)])

    def entity_rows(self, entities: list[str]) -> list[Row]:
        from hamgam.entities import SPECS

        rows = list(self.login_rows())
        if not self.logged_in or self._client is None:
            rows.append(skip("crm: type codes and finds", "not tried: the CRM refused or did not answer the login"))
            return rows
        for entity in entities:
            rows += self._type_code_rows(entity)
        for entity in entities:
            rows.append(self._probe_row(SPECS[entity]))
        return rows

    # -- type codes --------------------------------------------------------------------------------
    def _types_of(self, index_name: str) -> list[dict] | PayamgostarError:
        if index_name not in self._types:
            assert self._client is not None  # entity rows are asked for only once logged in
            try:
                self._types[index_name] = listed_types(self._client, index_name)
            except PayamgostarError as exc:
                self._types[index_name] = exc
            except Exception as exc:  # an answer the list cannot read: a row, not the end of the check
                self._types[index_name] = PayamgostarError(f"{type(exc).__name__}: {exc}",
                                                           endpoint="ICrmObjectType/GetCrmObjectTypeList")
        return self._types[index_name]

    def _type_code_rows(self, entity: str) -> list[Row]:
        rows = []
        for field, code in type_codes(self.config, entity).items():
            check, setting = f"crm: type code {entity}.{field}", f"{entity}.{field}"
            index_name = TYPE_INDEX.get(entity)
            if index_name is None:
                rows.append(skip(check, f"{code!r}: no CrmObjectTypes index known for {entity}"))
                continue
            listed = self._types_of(index_name)
            if isinstance(listed, PayamgostarError):
                rows.append(self._error_row(check, listed, f"check that the CRM serves ICrmObjectType/"
                                                           f"GetCrmObjectTypeList for {index_name}"))
            else:
                rows.append(compare_type_code(check, setting, code, listed))
        return rows

    # -- one harmless read per endpoint ------------------------------------------------------------
    def _probe_row(self, spec: EntitySpec) -> Row:
        endpoint, find = probe(spec, self.config)
        check = f"crm: {spec.name} find ({endpoint})"
        codes = type_codes(self.config, spec.name)
        fix = (f"check {spec.name}.type_code ({codes.get('type_code')!r}) in the settings file: the CRM refused a "
               "find with it" if "type_code" in codes else f"check that the CRM serves {endpoint}")
        assert self._client is not None
        try:
            found = find(self._client)
        except Exception as exc:
            return self._error_row(check, exc, fix)
        if found:
            return warn(check, f"a record holds the probe number {PROBE_NUMBER!r}; the answer's shape is right")
        return ok(check, "none found, answer of the expected shape")


def probe(spec: EntitySpec, config: HamgamConfig) -> tuple[str, Callable[[PayamgostarClient], Any]]:
    """The endpoint hamgam looks ``spec``'s records up by, and a find of ``PROBE_NUMBER`` through it."""
    from hamgam.entities.identities import IdentityTarget
    from hamgam.entities.products import ProductTarget
    from hamgam.payamgostar.documents import RestBillable

    record = f"hamgam check {spec.name}"
    target: Any = spec.target
    if isinstance(target, IdentityTarget):
        return ("REST crmobject/person|organization/find",
                lambda client: client.find_identity_by_customer_number(PROBE_NUMBER, record=record))
    if isinstance(target, ProductTarget):
        return "SOAP IProduct/FindProductByCode", lambda client: client.find_product_by_code(PROBE_NUMBER,
                                                                                            record=record)
    api = target.api
    code = type_codes(config, spec.name).get("type_code")
    if isinstance(api, RestBillable):
        endpoint = f"REST {api.path}/find"
    else:
        find = getattr(api, "find", None)
        endpoint = f"SOAP {getattr(find, 'service', '?')}/{getattr(find, 'operation', '?')}"
    return endpoint, lambda client: api.find_by_number(client, PROBE_NUMBER, code, record=record)


def connection_test(connect: Callable[[], PayamgostarClient], conn_id: str,
                    connection: str = "this connection") -> tuple[bool, str]:
    """The CRM checks as Airflow's connection test answers: (no ✗, one line naming what failed or passed).
    With readable settings, the type codes and finds of every entity some company syncs are checked too."""
    from hamgam.config import ConfigError, load_config
    from hamgam.entities import SPECS

    try:
        config: HamgamConfig | None = load_config()
    except ConfigError:
        config = None
    if config is None:
        checks = CrmChecks(HamgamConfig(companies=[CompanyConfig(code=100)]), connect, conn_id, connection)
        entities: list[str] = []
    else:
        checks = CrmChecks(config, connect, conn_id, connection)
        entities = [name for name in SPECS if config.companies_for(name)]
    try:
        rows = checks.entity_rows(entities) if entities else checks.login_rows()
    finally:
        checks.close()
    failed = [row for row in rows if row.status == "fail"]
    if failed:
        return False, "; ".join(f"✗ {row.check}: {row.found} (fix: {row.fix})" for row in failed)
    passed = sum(row.status == "ok" for row in rows)
    return True, f"{passed} CRM checks passed (login, SOAP{', type codes and finds' if entities else ''})"
