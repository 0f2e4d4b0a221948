"""Tests of the page helpers: tables.show / table_html and tools/tidy_notebook.py."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from vaefail_core.tables import table_html

REPO = Path(__file__).resolve().parents[1]


def _frame():
    return pd.DataFrame({"method": ["VAE", "IWAE"], "mean": [1.23456, -0.0001], "sd": [np.nan, 0.5]})


def test_table_html_is_deterministic_and_rounded():
    a = table_html(_frame(), "Table 2 (paper): ours", digits=2, index=False)
    assert a == table_html(_frame(), "Table 2 (paper): ours", digits=2, index=False)   # no random uuid
    assert "<caption>Table 2 (paper): ours</caption>" in a
    assert ">1.23<" in a and "1.2346" not in a
    assert ">0.00<" in a and "-0.00" not in a          # -0 prints as 0
    assert ">0.50<" in a
    # NaN is an empty cell, text columns are left-aligned, the index is hidden
    assert "nan" not in a.lower()
    assert "text-align: left" in a
    assert "row_heading" not in a
    # another caption gives other ids (two tables on one page do not share CSS)
    b = table_html(_frame(), "another", digits=2, index=False)
    assert a.split('id="')[1][:20] != b.split('id="')[1][:20]


def test_table_html_takes_repeated_labels():
    df = pd.DataFrame([[1.0, "a"], [2.0, "b"]], index=["x", "x"], columns=["v", "v"])
    assert ">2.000<" in table_html(df)


def test_table_html_rejects_bad_input():
    with pytest.raises(TypeError):
        table_html([1, 2, 3])
    with pytest.raises(ValueError):
        table_html(_frame(), digits=-1)


def _tidy_module():
    spec = importlib.util.spec_from_file_location("tidy_notebook", REPO / "tools" / "tidy_notebook.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tidy_notebook_strips_clock_readings_and_fixes_ids(tmp_path):
    tidy = _tidy_module()
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"start_time": "t0", "end_time": "t1", "duration": 3.0,
                                "input_path": "x", "parameters": {"PROFILE": "reduced"}}
    code = nbformat.v4.new_code_cell("1 + 1")
    code.metadata.update({"execution": {"iopub.status.busy": "t"}, "tags": ["injected-parameters"],
                          "papermill": {"duration": 1.0, "start_time": "a", "end_time": "b", "status": "completed"}})
    nb.cells = [nbformat.v4.new_markdown_cell("# hi"), code]
    p = tmp_path / "a.ipynb"
    nbformat.write(nb, p)
    assert tidy.main([str(p)]) == 0
    once = p.read_bytes()
    out = nbformat.read(p, as_version=4)
    assert out.metadata["papermill"] == {"parameters": {"PROFILE": "reduced"}}
    assert [c["id"] for c in out.cells] == ["cell-0", "cell-1"]
    assert "execution" not in out.cells[1].metadata
    assert out.cells[1].metadata["papermill"] == {"status": "completed"}
    assert "hide-input" in out.cells[1].metadata["tags"]
    assert tidy.main([str(p)]) == 0 and p.read_bytes() == once      # idempotent
    assert tidy.main([str(tmp_path / "missing.ipynb")]) == 2
