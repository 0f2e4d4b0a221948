"""Atomic file writes (temp file + rename) shared by every cache in the project.

A reader never sees a half-written file: the data go to a temporary file in the same
folder, which is then renamed over the target in one step (``os.replace``).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_bytes(path, json.dumps(obj, indent=1, sort_keys=True).encode())


def atomic_torch_save(path: str | os.PathLike, obj: Any) -> Path:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def config_hash(config: Any) -> str:
    """Short stable hash of a JSON-serialisable config (sorted keys)."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


RESULTS_DIR = Path(os.environ.get("VAEFAIL_RESULTS", Path(__file__).resolve().parent.parent / "results"))


def cached_json(profile: str, name: str, config: dict, compute, retrain: bool = False) -> dict:
    """Load ``results/<profile>/<name>.json`` if it holds a result for exactly ``config``
    (same hash), else run ``compute()`` (returning a JSON-serialisable dict) and store it.

    A missing, unreadable or stale file is recomputed; ``retrain=True`` always recomputes.
    """
    path = RESULTS_DIR / profile / f"{name}.json"
    key = config_hash(config)
    if not retrain and path.exists():
        try:
            rec = json.loads(path.read_text())
            if rec.get("config_hash") == key:
                return rec["result"]
        except (json.JSONDecodeError, KeyError, TypeError):
            pass  # corrupt entry: recompute below
    result = compute()
    atomic_write_json(path, {"config_hash": key, "config": config, "result": result})
    return result


#: Significant digits of the numbers in the committed table CSVs. Every table reports a
#: mean over data versions whose spread is at the second or third digit; the last bits
#: that differ between CPUs (float32 evaluation, ATen kernels) sit at the sixth digit and
#: beyond, so four digits keep what the experiment supports and nothing that varies by
#: machine.
CSV_FLOAT = "%.4g"


def write_table_csv(frame, path: str | os.PathLike) -> Path:
    """Write a pandas DataFrame as CSV (no index, ``CSV_FLOAT``), atomically."""
    path = Path(path)
    atomic_write_bytes(path, frame.to_csv(index=False, float_format=CSV_FLOAT).encode())
    return path
