"""Great Expectations, imported with its INFO chatter kept out of the logs.

Importing GX 1.x logs ~214 INFO lines ("Skipping registering function ...") from the
``great_expectations`` loggers, and one of its modules (``data_context.types.base``) sets its own logger
to INFO while it is imported, so every ephemeral context adds "Created temporary directory ...". Raising
the level after the import is too late for the first and is undone by the second. ``import_gx()`` quiets
the loggers before the import and again after it; every place hamgam imports GX goes through it (the
validation suites, the warm executor, the backfill demo's preloading executor).
"""

from __future__ import annotations

import logging
from types import ModuleType

GX_LOGGER = "great_expectations"


def quiet_gx_loggers() -> None:
    """GX's loggers at WARNING: its parent logger, and any of its own that GX set to a lower level."""
    logging.getLogger(GX_LOGGER).setLevel(logging.WARNING)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if (name.startswith(f"{GX_LOGGER}.") and isinstance(logger, logging.Logger)
                and logging.NOTSET < logger.level < logging.WARNING):
            logger.setLevel(logging.WARNING)


def import_gx() -> ModuleType:
    """``great_expectations``, imported (once per process) with its loggers quieted before and after."""
    quiet_gx_loggers()
    import great_expectations

    quiet_gx_loggers()
    return great_expectations
