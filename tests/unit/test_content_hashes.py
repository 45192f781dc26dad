"""Content hashes are stored in the ledger: the same rows must hash to the same value from one version of
hamgam to the next (or every record would look edited). Pinned values, computed by the row-wise join."""

from __future__ import annotations

import pandas as pd

from hamgam.entities.base import content_hashes, records_of


def test_content_hashes_stay_what_they_were():
    frame = pd.DataFrame({"code": ["۱۰۰-12", None], "amount": [1500, None], "lines": [[{"a": 1}], []]},
                         index=[7, 3])
    hashes = content_hashes(frame, ("code", "amount", "lines"), "sales_invoices:1:100:")
    assert list(hashes.index) == [7, 3]
    assert list(hashes) == ["447a6af5f0c4e1843d28df1733e8a5eb5d461bad", "31a2d684ba723ecd435bb8ee94594fd1f4f86016"]


def test_records_of_turns_every_missing_value_into_none():
    frame = pd.DataFrame({"a": [1.5, float("nan")], "b": pd.array(["x", pd.NA], dtype="string"),
                          "c": [pd.Timestamp("2025-01-01"), pd.NaT]})
    assert records_of(frame) == [{"a": 1.5, "b": "x", "c": pd.Timestamp("2025-01-01")},
                                 {"a": None, "b": None, "c": None}]


def test_records_of_gives_python_values_as_to_dict_does():
    frame = pd.DataFrame({"n": pd.array([1, 2], dtype="int64"), "ok": [True, False], "lines": [[1], []],
                          "s": pd.array(["a", None], dtype="string")}, index=[5, 9])
    rows = records_of(frame)
    assert rows == [{"n": 1, "ok": True, "lines": [1], "s": "a"}, {"n": 2, "ok": False, "lines": [], "s": None}]
    assert [type(row["n"]) for row in rows] == [int, int] and [type(row["ok"]) for row in rows] == [bool, bool]
    assert records_of(pd.DataFrame(index=[1, 2])) == [{}, {}]
