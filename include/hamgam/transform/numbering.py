"""Payamgostar numbering templates (vendor-sync-spec.md, "Fiscal year and numbering").

Grammar: literal text with tokens in braces.

* ``{<width>(<name>)}`` where ``<width>`` is one ``_`` per fixed digit (zero-padded) or ``*``
  (unlimited) and ``<name>`` is ``AN`` (running sequence), ``SHYY`` (Solar Hijri year), ``MIYY``
  (Gregorian year) or a custom parameter with a digit default, ``NAME:DEFAULT`` such as ``FP:6``
  (``NAME`` is ASCII letters and digits, starting with a letter);
* ``{companyCode}`` (or ``{company}``, as the vendor's docs write it): the company's code (digits).

Each token at most once; ``{`` and ``}`` never occur as literals; no whitespace inside braces. Every
token value is digits, so the non-digit literal characters cut a number into runs of digits; a
template is rejected as ambiguous when one such run would hold two unlimited-width tokens
(``{companyCode}{*(AN)}``). This is what makes :meth:`Template.parse_number` unambiguous.

Examples (company code 100): identity ``{companyCode}-{*(AN)}`` → ``100-10255``; quotes and invoices
``{companyCode}-{____(SHYY)}/{*(AN)}`` → ``100-1403/123``; receipts and payments
``{companyCode}-{____(SHYY)}/{*(FP:6)}-{*(AN)}`` → ``100-1403/6-5``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from hamgam.transform.text import to_ascii_digits

__all__ = [
    "COMPANY_CODE",
    "NumberMismatch",
    "Template",
    "TemplateError",
    "Token",
    "fiscal_year_of",
]

#: Key of the company code in :meth:`Template.format` and :meth:`Template.parse_number`.
COMPANY_CODE = "company_code"
_PLACEHOLDER = "companyCode"
_PLACEHOLDERS = (_PLACEHOLDER, "company")  # the vendor's docs write {company}; both mean the company code
_YEARS = ("SHYY", "MIYY")
_RESERVED = {"AN", *_YEARS, *_PLACEHOLDERS, COMPANY_CODE}
_TOKEN_BODY = re.compile(r"(?P<width>[^(]*)\((?P<name>[A-Za-z][A-Za-z0-9]*)(?::(?P<default>[^)]*))?\)")


class TemplateError(ValueError):
    """A malformed template, or values that :meth:`Template.format` cannot write into it."""


class NumberMismatch(ValueError):
    """An item number that does not fit a template."""

    def __init__(self, number: str, template: Template | str) -> None:
        self.number = number
        self.template = template
        text = template.text if isinstance(template, Template) else template
        super().__init__(f"number {number!r} does not match numbering template {text!r}")


@dataclass(frozen=True)
class Token:
    """One braced token. ``name`` is ``company_code``, ``AN``, ``SHYY``, ``MIYY`` or a custom name;
    ``width`` is the fixed digit count or ``None`` for unlimited; ``default`` only for custom ones."""

    name: str
    width: int | None
    default: int | None = None

    @property
    def pattern(self) -> str:
        digits = "[0-9]+" if self.width is None else f"[0-9]{{{self.width}}}"
        return f"(?P<{self.name}>{digits})"


def _expand_year(name: str, yy: int) -> int:
    """Two-digit year → full year: SHYY 50-99 → 13yy, 00-49 → 14yy (1350-1449);
    MIYY 69-99 → 19yy, 00-68 → 20yy (1969-2068, the POSIX ``%y`` rule)."""
    if name == "SHYY":
        return (1300 if yy >= 50 else 1400) + yy
    return (1900 if yy >= 69 else 2000) + yy


def _parse_token(body: str, template: str) -> Token:
    if body in _PLACEHOLDERS:
        return Token(COMPANY_CODE, None)
    m = _TOKEN_BODY.fullmatch(body)
    if m is None:
        raise TemplateError(f"unknown token {{{body}}} in numbering template {template!r}")
    width, name, default = m["width"], m["name"], m["default"]
    if width == "":
        raise TemplateError(f"token {{{body}}} has an empty width (use '_' per digit or '*') in {template!r}")
    if width != "*" and set(width) != {"_"}:
        raise TemplateError(f"token {{{body}}} has an invalid width {width!r} in {template!r}")
    if default is None:
        if name not in ("AN", *_YEARS):
            raise TemplateError(
                f"unknown token {{{body}}} in {template!r}: expected AN, SHYY, MIYY or NAME:DEFAULT"
            )
    elif name in _RESERVED:
        raise TemplateError(f"token {{{body}}}: {name} takes no default in {template!r}")
    elif not (default.isascii() and default.isdigit()):
        raise TemplateError(f"token {{{body}}}: the default of {name} must be digits in {template!r}")
    size = None if width == "*" else len(width)
    if default is not None and size is not None and len(str(int(default))) > size:
        raise TemplateError(
            f"token {{{body}}}: the default of {name} does not fit {size} digits in {template!r}"
        )
    return Token(name, size, None if default is None else int(default))


def _check_unambiguous(parts: list[str | Token], template: str) -> None:
    """Reject two unlimited tokens in the same run of digits (no non-digit literal between them)."""
    previous: Token | None = None
    for part in parts:
        if isinstance(part, Token):
            if part.width is None:
                if previous is not None:
                    raise TemplateError(
                        f"ambiguous numbering template {template!r}: unlimited tokens {previous.name} and "
                        f"{part.name} need a non-digit literal between them"
                    )
                previous = part
        elif not part.isdigit():
            previous = None


@dataclass(frozen=True)
class Template:
    """A parsed numbering template; build it with :meth:`Template.parse`."""

    text: str
    parts: tuple[str | Token, ...]

    @classmethod
    def parse(cls, text: str) -> Template:
        """Parse ``text``; raises :class:`TemplateError` on unbalanced or nested braces, unknown,
        duplicate or empty-width tokens and ambiguous templates."""
        parts: list[str | Token] = []
        names: set[str] = set()
        pos = 0
        for m in re.finditer(r"\{([^{}]*)\}", text):
            literal = text[pos : m.start()]
            if "{" in literal or "}" in literal:
                raise TemplateError(f"unbalanced braces in numbering template {text!r}")
            token = _parse_token(m[1], text)
            if token.name in names:
                raise TemplateError(f"duplicate token {token.name} in numbering template {text!r}")
            names.add(token.name)
            if literal:
                parts.append(literal)
            parts.append(token)
            pos = m.end()
        tail = text[pos:]
        if "{" in tail or "}" in tail:
            raise TemplateError(f"unbalanced braces in numbering template {text!r}")
        if tail:
            parts.append(tail)
        _check_unambiguous(parts, text)
        return cls(text, tuple(parts))

    @property
    def tokens(self) -> tuple[Token, ...]:
        return tuple(p for p in self.parts if isinstance(p, Token))

    @property
    def names(self) -> tuple[str, ...]:
        """Token names in template order (``company_code`` for ``{companyCode}``)."""
        return tuple(t.name for t in self.tokens)

    @cached_property
    def regex(self) -> re.Pattern[str]:
        """The anchored regex :meth:`parse_number` uses (use with ``fullmatch``)."""
        return re.compile("".join(p.pattern if isinstance(p, Token) else re.escape(p) for p in self.parts))

    def format(
        self,
        company_code: int | str | None = None,
        AN: int | str | None = None,
        SHYY: int | str | None = None,
        MIYY: int | str | None = None,
        **custom: int | str,
    ) -> str:
        """Write a number. Values for tokens the template lacks are ignored; a custom parameter left
        out takes its default; a missing AN/SHYY/MIYY/company code raises :class:`TemplateError`, as
        does a negative value or one too long for its fixed width (except that a year in a 2-digit
        token is written as its last two digits). Values are ints or digit strings (Persian/Saman
        digits allowed); an unlimited-width token writes a digit string as given, leading zeros
        included (customer code ``"00123"`` → ``100-00123``), a fixed-width one zero-pads."""
        values: dict[str, object] = {
            COMPANY_CODE: company_code,
            "AN": AN,
            "SHYY": SHYY,
            "MIYY": MIYY,
            **custom,
        }
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = values.get(part.name)
            if value is None:
                value = part.default
            if value is None:
                raise TemplateError(f"no value for {part.name} in numbering template {self.text!r}")
            digits = to_ascii_digits(value).strip()
            if not (digits.isascii() and digits.isdigit()):
                raise TemplateError(f"{part.name}={value!r} is not a non-negative whole number")
            if part.width is not None:
                digits = str(int(digits))
                if part.width == 2 and part.name in _YEARS:
                    digits = digits[-2:]
                if len(digits) > part.width:
                    raise TemplateError(
                        f"{part.name}={value!r} does not fit {part.width} digits in {self.text!r}"
                    )
                digits = digits.zfill(part.width)
            out.append(digits)
        return "".join(out)

    def parse_number(self, number: str, *, as_text: bool = False) -> dict[str, int | str]:
        """The token values of ``number``: ``company_code`` as a string (leading zeros kept), the
        others as ints; a 2-digit year is expanded (SHYY → 1350-1449, MIYY → 1969-2068).
        ``as_text=True`` returns every value as the digits matched, unchanged (leading zeros kept,
        2-digit years not expanded), e.g. to recover a Tadbir customer code from ``AN``.
        Digits may be Persian/Saman; surrounding whitespace is ignored. Raises
        :class:`NumberMismatch` when ``number`` does not fit."""
        text = to_ascii_digits(number)
        m = self.regex.fullmatch(text) or self.regex.fullmatch(text.strip())
        if m is None:
            raise NumberMismatch(number, self)
        result: dict[str, int | str] = {}
        for token in self.tokens:
            raw = m[token.name]
            if as_text or token.name == COMPANY_CODE:
                result[token.name] = raw
            elif token.width == 2 and token.name in _YEARS:
                result[token.name] = _expand_year(token.name, int(raw))
            else:
                result[token.name] = int(raw)
        return result

    def __str__(self) -> str:
        return self.text


def fiscal_year_of(number: str, template: Template | str) -> int:
    """The Solar Hijri fiscal year that ``number`` names through its ``SHYY`` token.

    Raises :class:`TemplateError` when the template has no SHYY token and :class:`NumberMismatch`
    when the number does not fit it.
    """
    tpl = template if isinstance(template, Template) else Template.parse(template)
    if "SHYY" not in tpl.names:
        raise TemplateError(f"numbering template {tpl.text!r} has no (SHYY) token")
    return int(tpl.parse_number(number)["SHYY"])
