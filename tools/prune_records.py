"""List (and with --delete remove) the sweep records of a profile's cache that no named
sweep asks for any more: records whose key changed (for example after the ground-truth
start changed) stay on disk, unused, until pruned.

    python tools/prune_records.py --profile reduced            # list
    python tools/prune_records.py --profile reduced --delete   # remove them (and their .npz)

A record file is a ``<label>-<key16>.json`` holding ``key`` and ``code_version``; other
files of the cache (tables, page caches) are never touched.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from vaefail_core.paper.records import SWEEPS
from vaefail_core.sweep import default_cache_dir, record_path


def stale_records(profile: str) -> list[Path]:
    cache = default_cache_dir(profile)
    wanted = {record_path(t, cache).name for name in SWEEPS for t in SWEEPS[name](profile)}
    out = []
    for path in sorted(cache.glob("*.json")):
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(rec, dict) and "key" in rec and "code_version" in rec and path.name not in wanted:
            out.append(path)
            if rec.get("params_file"):
                out.append(path.parent / rec["params_file"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="reduced")
    ap.add_argument("--delete", action="store_true")
    args = ap.parse_args()
    stale = stale_records(args.profile)
    for path in stale:
        print(path.name)
        if args.delete:
            path.unlink(missing_ok=True)
    print(f"{len(stale)} stale file(s) in {default_cache_dir(args.profile)}"
          + (" removed" if args.delete else ""))


if __name__ == "__main__":
    main()
