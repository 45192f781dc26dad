"""A big load reads, prepares and validates its chunks in a second (forked) process while it sends
(hamgam.preparer): the same outcome as in one process; a child that dies costs time, not records; an error
there arrives as itself and leaves the records queued; what the child logs reaches the load's log."""

from __future__ import annotations

import logging
import os

import pytest
from document_world import add_document, config_with, crm_records, line, number, sync

from hamgam import pipeline
from hamgam.tadbir.sessions import TadbirBusy

ENTITY = "sales_invoices"
DOCUMENTS = 24
SMALL_CHUNKS = {"chunk_size": 4, "crm_max_workers": 2}


def add_documents(tadbir) -> None:
    for n in range(1, DOCUMENTS + 1):
        add_document(tadbir, ENTITY, n, lines=[line(qty=-1)] if n % 7 == 0 else None)  # some invalid


def in_child(**sync_settings):
    return config_with(sync={**SMALL_CHUNKS, "prepare_process_from": 1, **sync_settings})


@pytest.fixture
def prepared_in(monkeypatch, tmp_path):
    """The pids prepare_rows ran in (a file: the child cannot write into the parent's memory)."""
    pids = tmp_path / "pids"
    real = pipeline.prepare_rows

    def recording(*args, **kwargs):
        with pids.open("a") as out:
            out.write(f"{os.getpid()}\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "prepare_rows", recording)
    return lambda: {int(p) for p in pids.read_text().split()} if pids.exists() else set()


def test_a_load_prepared_in_a_second_process_ends_as_in_one(tadbir, ledger, crm, sandbox, prepared_in, caplog):
    add_documents(tadbir)
    with caplog.at_level(logging.INFO, logger="hamgam.preparer"):
        counts = sync(ENTITY, tadbir, ledger, crm, config=in_child())

    assert prepared_in() - {os.getpid()}  # chunks were prepared in the child (detection reads here)
    assert "in a second process" in caplog.text
    invalid = {n for n in range(1, DOCUMENTS + 1) if n % 7 == 0}
    assert (counts["created"], counts["invalid"]) == (DOCUMENTS - len(invalid), len(invalid))
    assert set(crm_records(sandbox, ENTITY)) == {number(ENTITY, n) for n in range(1, DOCUMENTS + 1)} - {
        number(ENTITY, n) for n in invalid}
    assert ledger.pending_count(100, ENTITY) == 0
    # a second pass finds nothing to do
    assert sync(ENTITY, tadbir, ledger, crm, config=in_child())["created"] == 0


def test_a_small_load_is_prepared_in_its_own_process(tadbir, ledger, crm, prepared_in):
    add_documents(tadbir)
    sync(ENTITY, tadbir, ledger, crm, config=config_with(sync={**SMALL_CHUNKS, "prepare_process_from": 1000}))
    assert prepared_in() == {os.getpid()}


def test_a_preparing_process_that_dies_costs_time_not_records(tadbir, ledger, crm, sandbox, monkeypatch, caplog):
    add_documents(tadbir)
    parent, real, calls = os.getpid(), pipeline.prepare_rows, []

    def dies_on_its_second_chunk(*args, **kwargs):
        if os.getpid() != parent:
            calls.append(1)  # the child's own copy of the list
            if len(calls) == 2:
                os._exit(9)  # as if killed
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "prepare_rows", dies_on_its_second_chunk)
    counts = sync(ENTITY, tadbir, ledger, crm, config=in_child())

    assert "the preparing process stopped" in caplog.text
    assert counts["created"] + counts["invalid"] == DOCUMENTS
    numbers = [r["number"] for r in sandbox.records("sales_invoice")]
    assert len(numbers) == len(set(numbers)) == counts["created"]
    assert ledger.pending_count(100, ENTITY) == 0


def test_an_error_in_the_preparing_process_arrives_as_itself(tadbir, ledger, crm, monkeypatch):
    add_documents(tadbir)
    parent, real = os.getpid(), pipeline.prepare_rows

    def locked_in_the_child(*args, **kwargs):
        if os.getpid() != parent:
            raise TadbirBusy("__SPFactor__", "held by an open document")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "prepare_rows", locked_in_the_child)
    with pytest.raises(TadbirBusy, match="__SPFactor__ is locked") as raised:
        sync(ENTITY, tadbir, ledger, crm, config=in_child())
    assert (raised.value.table, raised.value.detail) == ("__SPFactor__", "held by an open document")
    # the first chunk was prepared in this process and loaded; the others wait for the retry, nothing lost
    first_chunk = SMALL_CHUNKS["chunk_size"]
    assert ledger.pending_count(100, ENTITY) == DOCUMENTS - first_chunk
    assert sum(ledger.counts_by_status(100, ENTITY).values()) == first_chunk


def test_what_the_preparing_process_logs_reaches_the_load_log(tadbir, ledger, crm, monkeypatch, caplog):
    add_documents(tadbir)
    parent, real = os.getpid(), pipeline.prepare_rows

    def logs(*args, **kwargs):
        if os.getpid() != parent:
            logging.getLogger("hamgam.pipeline").warning("prepared in pid %s", os.getpid())
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "prepare_rows", logs)
    with caplog.at_level(logging.WARNING, logger="hamgam.pipeline"):
        sync(ENTITY, tadbir, ledger, crm, config=in_child())
    children = {r.getMessage() for r in caplog.records if r.getMessage().startswith("prepared in pid")}
    assert children and f"prepared in pid {parent}" not in children


def test_a_load_keeps_the_heap_it_found_out_of_full_collections_and_gives_it_back(tadbir, ledger, crm, monkeypatch):
    import gc

    add_documents(tadbir)
    during, real = [], pipeline._send_upserts

    def sending(*args, **kwargs):
        during.append(gc.get_freeze_count())
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_send_upserts", sending)
    assert gc.get_freeze_count() == 0
    sync(ENTITY, tadbir, ledger, crm, config=in_child())
    assert during and min(during) > 0  # the objects alive at the start were frozen while it sent
    assert gc.get_freeze_count() == 0  # and given back to the collector after it
