"""What a statement hamgam runs against Tadbir becomes on SQL Server, and the rules it must keep there.

No SQL Server runs here. A statement is compiled by the dialect a real ``mssql+pymssql`` engine has, its
parameters go through the Tadbir engine's parameter hook (``hamgam.tadbir.mssql_params``) and pymssql's own
quoting (``pymssql._mssql.substitute_params``): the text is what pymssql would send. sqlglot's tsql dialect
(with ``CHANGETABLE``, below) parses it, and ``broken_rules`` lists what SQL Server
2012–2019 would reject or misread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pymssql._mssql as pymssql_wire
import sqlalchemy as sa
import sqlglot
from sqlglot import exp
from sqlglot.dialects.tsql import TSQL
from sqlglot.parsers.tsql import TSQLParser
from sqlglot.tokens import TokenType

from hamgam.tadbir import mssql_params

PYMSSQL = sa.create_engine("mssql+pymssql://hamgam@tadbir.invalid/Tadbir").dialect  # never connects
MAX_PARAMETERS = 2100  # SQL Server's limit per statement (an RPC through pyodbc or a server-side cursor)
AMBIGUOUS_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?!T)")  # read by DATEFORMAT for DATETIME columns


# sqlglot's tsql dialect does not know CHANGETABLE(CHANGES <table>, <version>): this adds exactly that
# table-valued function (nothing else) to it
def _parse_changetable(self) -> exp.Expression:
    if not self._match_text_seq("CHANGES"):
        self.raise_error("CHANGETABLE(CHANGES <table>, <last version>) expected")
    table = self._parse_table_parts()
    if not self._match(TokenType.COMMA):
        self.raise_error("CHANGETABLE(CHANGES <table>, <last version>): a comma expected")
    version = self._parse_bitwise()
    return self.expression(exp.Anonymous(this="CHANGETABLE", expressions=[exp.var("CHANGES"), table, version]))


class TSQLWithChangeTracking(TSQL):
    class Parser(TSQLParser):
        FUNCTION_PARSERS = {**TSQLParser.FUNCTION_PARSERS, "CHANGETABLE": _parse_changetable}


@dataclass(frozen=True)
class Sent:
    sql: str  # the text pymssql would send
    parameters: int  # how many parameters the compiled statement has


def sent(statement: sa.Executable) -> Sent:
    compiled = statement.compile(dialect=PYMSSQL, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    processors = compiled._bind_processors
    params = {k: processors[k](v) if k in processors else v for k, v in params.items()}
    params = mssql_params.unambiguous_parameters(params, executemany=False)
    return Sent(pymssql_wire.substitute_params(str(compiled), params).decode(), len(params))


def broken_rules(statement: sa.Executable) -> list[str]:
    """What SQL Server would reject or misread in ``statement`` as hamgam sends it (empty: nothing)."""
    out = sent(statement)
    problems = []
    if out.parameters > MAX_PARAMETERS:
        problems.append(f"{out.parameters} parameters (SQL Server takes {MAX_PARAMETERS})")
    tokens = TSQLWithChangeTracking().tokenize(out.sql)
    if any(t.token_type == TokenType.LIMIT or t.text.upper() == "LIMIT" for t in tokens
           if t.token_type not in (TokenType.STRING, TokenType.NATIONAL_STRING)):
        problems.append("LIMIT (T-SQL pages with TOP or OFFSET … FETCH)")
    if any(t.token_type == TokenType.DPIPE for t in tokens):
        problems.append("|| (T-SQL concatenates with + or CONCAT)")
    try:
        tree = sqlglot.parse_one(out.sql, read=TSQLWithChangeTracking)
    except sqlglot.errors.ParseError as error:
        return [*problems, f"not T-SQL: {str(error).splitlines()[0]}"]
    if any(True for _ in tree.find_all(exp.Boolean)):
        problems.append("a boolean literal (true/false do not exist in T-SQL)")
    for select in tree.find_all(exp.Select):
        pages = select.args.get("limit") or select.args.get("offset") or select.args.get("fetch")
        if pages is not None and select.args.get("order") is None:
            problems.append("TOP / OFFSET … FETCH without ORDER BY (which rows is up to the server)")
    for literal in tree.find_all(exp.Literal):
        if literal.is_string and not isinstance(literal.parent, exp.National):
            problems.append(f"string literal {literal.sql()} without N (non-Latin text becomes '?')")
    for text in [*tree.find_all(exp.National), *(x for x in tree.find_all(exp.Literal) if x.is_string)]:
        if AMBIGUOUS_DATE.match(text.name):
            problems.append(f"date literal {text.name!r}: a dmy login reads it as year-day-month")
    return problems
