"""Deterministic demo data for the legacy Tadbir database: one SQLite file per company.

``build_demo(out_dir)`` writes ``out_dir/tadbir_<code>.sqlite``; ``fill_company(engine, code)``
fills any SQLAlchemy engine. CLI: ``python -m tadbir_demo build --out data/demo``.
"""

from .build import build_demo, fill_company, generate_company

__all__ = ["build_demo", "fill_company", "generate_company"]
