"""Evaluation of a bound CrmObjectFindModel (§3.6) against stored documents.

Chosen where the contract is silent:
- queries join left to right; each query's `logicalOperator` joins it to what came before
  (And 0, Or 1, AndNot 2, OrNot 3) and the first query's operator is ignored;
- `leafs` form a group joined to the query's own condition by `leafLogicalOperator`
  (default And) and negated by `leafNegate`;
- comparisons ignore case (SQL Server's usual collation); ordered comparisons are numeric
  when both sides are numbers; `In`/`NotIn` take a comma-separated list;
- when both sides are dates (`2026-11-28`, `2026-11-28T17:00:00`, with any fraction of a
  second, maybe an offset or Z), Equals, NotEqual and the ordered comparisons compare the
  moments, not the text: `...T17:00:00` equals `...T17:00:00.000` and is before
  `...T17:00:00.5`. A value without an offset is Tehran local time, as the CRM stores and
  returns its dates; one with an offset is converted to it;
- a field that is not a document key is looked up as an extended-property user key;
  a missing (null) value matches nothing;
- paging is 1-based (0 is taken as 1), default page size 50.
"""

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pg_sandbox.dates import TEHRAN
from pg_sandbox.errors import bad_request
from pg_sandbox.store import INDEXED

OPERATORS = {0: "Equals", 1: "GreateThan", 2: "GreaterThanOrEqual", 3: "In", 4: "LessThan",
             5: "LessThanOrEqual", 6: "NotEqual", 7: "NotIn", 11: "TextStartsWith", 12: "TextContains",
             13: "TextEndsWith"}
LOGICAL = {0: "And", 1: "Or", 2: "AndNot", 3: "OrNot"}
DEFAULT_PAGE_SIZE = 50
_DATE = re.compile(r"\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?)?(Z|[+-]\d\d:?\d\d)?", re.IGNORECASE)


def check(queries: list[dict[str, Any]], path: str = "$.queries") -> None:
    """400 for operator codes the server does not know."""
    for i, query in enumerate(queries):
        here = f"{path}[{i}]"
        _check_code(query.get("operator", 0), OPERATORS, f"{here}.operator")
        _check_code(query.get("logicalOperator", 0), LOGICAL, f"{here}.logicalOperator")
        if query.get("leafLogicalOperator") is not None:
            _check_code(query["leafLogicalOperator"], LOGICAL, f"{here}.leafLogicalOperator")
        check(query.get("leafs") or [], f"{here}.leafs")


def _check_code(code: int, known: dict[int, str], path: str) -> None:
    if code not in known:
        raise bad_request("invalid_operator", f"The field '{path[2:]}' has an unknown code {code}.",
                          f"Known codes: {', '.join(f'{k}={v}' for k, v in known.items())}. Path: {path}")


def indexed_equals(queries: list[dict[str, Any]], keys: Iterable[str] = tuple(INDEXED)) -> dict[str, str]:
    """Equals conditions on indexed `keys` that every match must meet (used to narrow in SQL)."""
    if any(q.get("logicalOperator", 0) != 0 for q in queries[1:]):
        return {}
    narrowed: dict[str, str] = {}
    for query in queries:
        key = _doc_key_for_index(query.get("field"), keys)
        if key and query.get("operator", 0) == 0 and not query.get("leafs") and query.get("value") is not None:
            narrowed[key] = query["value"]
    return narrowed


def _doc_key_for_index(field: str | None, keys: Iterable[str]) -> str | None:
    return next((key for key in keys if field and key.lower() == field.lower()), None)


def matches(doc: dict[str, Any], queries: list[dict[str, Any]]) -> bool:
    result = True
    for i, query in enumerate(queries):
        value = _evaluate(doc, query)
        result = value if i == 0 else _join(result, query.get("logicalOperator", 0), value)
    return result


def _evaluate(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    condition = None
    if query.get("field"):
        condition = compare(field_value(doc, query["field"]), query.get("operator", 0), query.get("value"))
    if query.get("leafs"):
        group = matches(doc, query["leafs"])
        if query.get("leafNegate"):
            group = not group
        condition = group if condition is None else _join(condition, query.get("leafLogicalOperator") or 0, group)
    return True if condition is None else condition


def _join(left: bool, operator: int, right: bool) -> bool:
    return {0: left and right, 1: left or right, 2: left and not right, 3: left or not right}[operator]


def field_value(doc: dict[str, Any], field: str) -> Any:
    wanted = field.lower()
    for key, value in doc.items():
        if key.lower() == wanted:
            return value
    for prop in doc.get("extendedProperties") or []:
        if (prop.get("userKey") or "").lower() == wanted:
            return prop.get("value")
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).casefold()


def as_datetime(value: Any) -> datetime | None:
    """A date or date-time text as a naive Tehran local time; None when it is not one."""
    if not isinstance(value, str) or not _DATE.fullmatch(value.strip()):
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip())  # .NET writes 7 fraction digits
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "zZ" else text)
    except ValueError:
        return None  # e.g. a 13th month
    return moment.astimezone(TEHRAN).replace(tzinfo=None) if moment.tzinfo else moment


def compare(actual: Any, operator: int, expected: str | None) -> bool:
    """`actual <operator> expected` as the find model (and the SOAP search) compares values."""
    if actual is None or expected is None or isinstance(actual, list | dict):
        return False
    left, right = _text(actual), expected.casefold()
    if operator in (3, 7):
        found = left in {part.strip() for part in right.split(",")}
        return found if operator == 3 else not found
    if operator in (11, 12, 13):
        return {11: left.startswith(right), 12: right in left, 13: left.endswith(right)}[operator]
    moments = as_datetime(actual), as_datetime(expected)
    if None not in moments:
        left, right = moments
    elif operator in (1, 2, 4, 5):
        try:
            left, right = float(left), float(right)
        except ValueError:
            pass
    return {0: left == right, 1: left > right, 2: left >= right, 4: left < right, 5: left <= right,
            6: left != right}[operator]


def sort(docs: list[dict[str, Any]], orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stable sorts applied last-first, so the first order is the primary key; nulls first."""
    for order in reversed(orders):
        field = order.get("field")
        if field:
            docs = sorted(docs, key=lambda d, f=field: _sort_key(field_value(d, f)), reverse=order.get("order") == 1)
    return docs


def _sort_key(value: Any) -> tuple:
    if value is None:
        return (0, 0.0, "")
    try:
        return (1, float(value), "")
    except (TypeError, ValueError):
        return (2, 0.0, _text(value))


def page(docs: list[Any], page_number: int | None, page_size: int | None) -> list[Any]:
    if (page_number or 0) < 0 or (page_size or 0) < 0:
        raise bad_request("invalid_paging", "pageNumber and pageSize must not be negative.")
    size = page_size or DEFAULT_PAGE_SIZE
    start = (max(page_number or 1, 1) - 1) * size
    return docs[start:start + size]


def included_fields(doc: dict[str, Any], select_fields: list[dict[str, Any]]) -> dict[str, str | None]:
    """The `includedFields` map of a find result: each selected field as text."""
    included: dict[str, str | None] = {}
    for select in select_fields:
        for name in select.get("fields") or []:
            if name:
                value = field_value(doc, name)
                included[name] = None if value is None or isinstance(value, list | dict) else str(value)
    return included
