"""Deterministic random sources: one independent stream per (seed, company, table family).

Separate streams keep families independent, so adding a generator later (e.g. invoices) does not
change the customers or products an earlier build produced. ``random.Random`` seeded with a string
hashes it with SHA-512, which is stable across processes and ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import random


def family_rng(seed: int, company_code: int, family: str) -> random.Random:
    return random.Random(f"tadbir-demo:{seed}:{company_code}:{family}")
