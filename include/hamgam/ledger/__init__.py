"""The ledger (``hamgam_state``): per record what the CRM holds, the change queue, cursors, runs, leases
and the webhook queue.

SQLite file by default, PostgreSQL in production; the schema is kept by Alembic
(``hamgam.ledger.migrate.upgrade``), which ``Ledger.connect`` runs first.
"""

from hamgam.ledger.db import make_engine, normalize_url
from hamgam.ledger.migrate import upgrade
from hamgam.ledger.models import (
    ACTIONS,
    COUNT_NAMES,
    EVENT_KINDS,
    EVENT_SOURCES,
    EVENT_STATUSES,
    ORIGINS,
    OUTCOMES,
    PROBLEM_STATUSES,
    RUN_STAGES,
    RUN_STATES,
    STATUSES,
    Base,
)
from hamgam.ledger.store import (
    EventRow,
    Lease,
    LeaseBusy,
    LeaseLost,
    Ledger,
    OutcomeRow,
    PendingChangeRow,
    ProblemRecord,
    RecordState,
    ReferenceWrites,
    RunRow,
    Settlement,
    try_holder,
)

__all__ = [
    "ACTIONS", "COUNT_NAMES", "EVENT_KINDS", "EVENT_SOURCES", "EVENT_STATUSES", "ORIGINS", "OUTCOMES",
    "PROBLEM_STATUSES", "RUN_STAGES", "RUN_STATES", "STATUSES", "Base", "EventRow", "Lease", "LeaseBusy",
    "LeaseLost", "Ledger", "OutcomeRow", "PendingChangeRow", "ProblemRecord", "RecordState", "ReferenceWrites",
    "RunRow",
    "Settlement", "make_engine", "normalize_url", "try_holder", "upgrade",
]
