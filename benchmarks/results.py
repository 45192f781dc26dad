"""benchmarks/RESULTS.md: a benchmark's dated table goes to the end of its own section (made when missing)."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def with_table(text: str, section: str, intro: str, table: str) -> str:
    """``text`` with ``table`` at the end of ``section`` (a ``## `` heading), which is made, with ``intro``,
    at the end when missing."""
    if section not in text:
        text = text.rstrip("\n") + f"\n\n{section}\n\n{intro.rstrip()}\n"
    end = text.find("\n## ", text.index(section) + len(section))
    end = len(text) if end < 0 else end
    return text[:end].rstrip("\n") + "\n\n" + table.strip("\n") + "\n" + text[end:]


def add_table(section: str, intro: str, table: str) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    RESULTS.write_text(with_table(text, section, intro, table), encoding="utf-8")
