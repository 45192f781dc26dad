"""Field lengths the CRM is sent (settings ``limits``; the vendor states none, so they are assumptions).

Two rules: a name, code, address, e-mail or place longer than its limit makes the record invalid, the field
named (:func:`too_long`); free text (descriptions, notes) is cut instead (:func:`truncate`): its readable
start is kept, at a word boundary when one is near, and the marker (``" …[truncated]"``) ends it, inside
the limit.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["too_long", "truncate"]

_BLANKS = " \t\n\r\u200c\u200d"  # trailing spaces and joiners are dropped at a cut
WORD_BOUNDARY_WINDOW = 0.2  # cut at the last space within the final fifth of the room, else mid-word


def truncate(text: str | None, limit: int, marker: str) -> str | None:
    """``text`` unchanged when it fits ``limit`` characters; else its start and ``marker``, together at most
    ``limit`` characters."""
    if text is None or len(text) <= limit:
        return text
    room = max(limit - len(marker), 1)
    head = text[:room]
    space = head.rfind(" ")
    if space >= room * (1 - WORD_BOUNDARY_WINDOW):
        head = head[:space]
    return head.rstrip(_BLANKS) + marker


def too_long(fields: Iterable[tuple[str, str | None, int]]) -> str | None:
    """``(field, value, limit)`` → ``"Name: 10000 characters, at most 250; …"`` for the values over their
    limit (the values themselves are never repeated: they may be national codes or phones), else None."""
    over = [f"{field}: {len(value)} characters, at most {limit}"
            for field, value, limit in fields if isinstance(value, str) and len(value) > limit]
    return "; ".join(over) or None
