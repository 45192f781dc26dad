"""The `query` string of the SOAP Search* operations (payamgostar-api.md §4.5).

The vendor does not publish the grammar (§7); the sandbox takes the forms clients are
seen to send:

    query     := "" | condition ( "&" condition )*        ("&&" joins too)
    condition := Field operator value
    operator  := "==" | "=" | "!=" | ">=" | "<=" | ">" | "<"
    value     := "double-quoted text" (\\" and \\\\ escape) | a bare token (42, true)

e.g. `ModifyDate >= "2026-11-28T17:00:00" & Number == "100-1403/7"`. A Field is a member of
the searched data contract (InvoiceInfo for the IInvoice Search* operations), named ignoring case. Values
compare as the REST find does (find.compare): ignoring case, numbers as numbers, dates as
moments (so `ModifyDate >= "2026-11-28T17:00:00"` is a datetime comparison, fractions of a
second included). An empty query matches everything.

Stricter than the real server may be, on purpose: OR, parentheses, an unknown operator or
field and unbalanced quotes are refused (QueryError) instead of matching nothing.
"""

import re
from dataclasses import dataclass
from typing import Any

from pg_sandbox.find import compare, field_value

OPERATORS = {"==": 0, "=": 0, "!=": 6, ">": 1, ">=": 2, "<": 4, "<=": 5}  # -> find's FilterOperators
_FIELD = re.compile(r"\s*([A-Za-z_]\w*)\s*")
_OPERATOR = re.compile(r"(==|!=|>=|<=|=|>|<)\s*")
_VALUE = re.compile(r'(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^\s&|"()=<>!]+))\s*')
_AND = re.compile(r"&&?")
_ESCAPE = re.compile(r"\\(.)")


class QueryError(ValueError):
    pass


@dataclass(frozen=True)
class Condition:
    field: str
    operator: int
    value: str

    def holds(self, doc: dict[str, Any]) -> bool:
        return compare(field_value(doc, self.field), self.operator, self.value)


def parse(query: str | None, fields: tuple[str, ...]) -> list[Condition]:
    """The conditions of `query`, all of which must hold; `fields` are the searchable names."""
    text = query or ""
    known = {name.lower(): name for name in fields}
    conditions: list[Condition] = []
    position = 0
    while text[position:].strip():
        field_match = _FIELD.match(text, position)
        if field_match is None:
            raise QueryError(_problem(text, _skip_blanks(text, position), "expected a field name"))
        field = known.get(field_match[1].lower())
        if field is None:
            raise QueryError(_problem(text, field_match.start(1), f"unknown field '{field_match[1]}'"))
        operator_match = _OPERATOR.match(text, field_match.end())
        if operator_match is None:
            raise QueryError(_problem(text, field_match.end(), f"expected one of {' '.join(OPERATORS)}"))
        value_match = _VALUE.match(text, operator_match.end())
        if value_match is None:
            raise QueryError(_problem(text, operator_match.end(), 'expected a "quoted value" or a bare word'))
        quoted = value_match["quoted"]
        value = _ESCAPE.sub(r"\1", quoted) if quoted is not None else value_match["bare"]
        conditions.append(Condition(field, OPERATORS[operator_match[1]], value))
        position = value_match.end()
        if position < len(text):
            joiner = _AND.match(text, position)
            if joiner is None:
                raise QueryError(_problem(text, position, "expected & between conditions"))
            position = joiner.end()
            if not text[position:].strip():
                raise QueryError(_problem(text, position, "a condition must follow &"))
    return conditions


def _skip_blanks(text: str, position: int) -> int:
    return len(text) - len(text[position:].lstrip())


def _problem(text: str, position: int, what: str) -> str:
    return f"The query is not valid at position {position}: {what}. Query: {text!r}"
