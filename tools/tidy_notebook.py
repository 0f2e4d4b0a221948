"""Make an executed notebook's file depend only on what it shows.

``python tools/tidy_notebook.py book/NAME.ipynb [...]`` rewrites each notebook in place:

* drops the run's clock readings: papermill's start/end times and durations (per cell
  and for the whole notebook) and the kernel's ``execution`` timestamps, so re-executing
  a page whose outputs did not change leaves its file byte-for-byte unchanged
  (``git status`` stays clean after ``make book``);
* gives every cell a stable id (``cell-<index>``) in place of the random one jupytext
  draws at each conversion;
* tags papermill's injected-parameters cell ``hide-input`` like every other code cell,
  so the book shows it collapsed.

Everything a reader or nbval sees (sources, outputs, execution counts) is kept.
"""
from __future__ import annotations

import sys

import nbformat

VOLATILE_PAPERMILL = ("start_time", "end_time", "duration")


def tidy(nb) -> None:
    pm = nb.metadata.get("papermill")
    if pm is not None:
        for k in VOLATILE_PAPERMILL:
            pm.pop(k, None)
        pm.pop("input_path", None)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
        md = cell.metadata
        md.pop("execution", None)
        cpm = md.get("papermill")
        if cpm is not None:
            for k in VOLATILE_PAPERMILL:
                cpm.pop(k, None)
        tags = md.setdefault("tags", [])
        if "injected-parameters" in tags and "hide-input" not in tags:
            tags.append("hide-input")


def main(paths: list[str]) -> int:
    if not paths:
        print("usage: python tools/tidy_notebook.py NOTEBOOK.ipynb [...]", file=sys.stderr)
        return 2
    for p in paths:
        try:
            nb = nbformat.read(p, as_version=4)
        except (OSError, ValueError) as e:
            print(f"tidy_notebook: error: {p}: {e}", file=sys.stderr)
            return 2
        tidy(nb)
        nbformat.write(nb, p)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
