"""Summaries of py-spy ``--format raw`` (collapsed stacks) profiles: top functions and cost buckets."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

#: (bucket, substring of a frame) — first match from the leaf upwards wins.
BUCKETS = [
    ("fingerprint (orjson sort + blake2b)", "fingerprint (meterbase/events/validate.py"),
    ("event validation (other)", "meterbase/events/validate.py"),
    ("body JSON parse", "json_body (meterbase/api/deps.py"),
    ("rollups accumulate (filters, Decimal)", "accumulate (meterbase/storage/rollups.py"),
    ("rollups upsert (SQL incl. UDF calls)", "write (meterbase/storage/rollups.py"),
    ("events insert (SQL)", "insert_events (meterbase/storage/events_repo.py"),
    ("meters lookup", "meters_for_events"),
    ("commit (fsync)", "commit"),
    ("begin / lock wait", "_on_begin"),
    ("response / FastAPI / uvicorn", "fastapi/"),
    ("response / FastAPI / uvicorn", "starlette/"),
    ("response / FastAPI / uvicorn", "uvicorn/"),
]


def load(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in Path(path).read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        stacks.append((frames, int(n)))
    return stacks


def _short(frame: str) -> str:
    return frame.replace("/work/main/.venv/lib/python3.11/site-packages/", "").replace("/work/main/src/", "")


def summarize(path: Path, top: int = 25) -> dict:
    stacks = load(path)
    total = sum(n for _, n in stacks) or 1
    self_c, incl_c, buckets, own = Counter(), Counter(), Counter(), Counter()
    for frames, n in stacks:
        mine = [f for f in frames if "meterbase/" in f]
        own[_short(mine[-1]) if mine else "(outside meterbase: server loop, threads)"] += n
        if frames:
            self_c[_short(frames[-1])] += n
        for f in set(frames):
            incl_c[_short(f)] += n
        bucket = "other"
        joined = ";".join(frames)
        for name, needle in BUCKETS:
            if needle in joined:
                bucket = name
                break
        buckets[bucket] += n
    pct = lambda c: [(k, round(100 * v / total, 1)) for k, v in c.most_common(top)]  # noqa: E731
    return {"samples": total, "self": pct(self_c), "inclusive": pct(incl_c), "buckets": pct(buckets),
            "by_meterbase_line": pct(own)}


def print_summary(path: Path, top: int = 20) -> None:
    s = summarize(path, top)
    print(f"{path}  ({s['samples']} samples, non-idle)")
    print("  buckets (first match, leaf-most):")
    for k, v in s["buckets"]:
        print(f"    {v:5.1f}%  {k}")
    print("  by innermost meterbase frame (library time charged to the meterbase line that called it):")
    for k, v in s["by_meterbase_line"]:
        print(f"    {v:5.1f}%  {k}")
    print("  top self time:")
    for k, v in s["self"]:
        print(f"    {v:5.1f}%  {k}")
    print("  top inclusive:")
    for k, v in s["inclusive"]:
        print(f"    {v:5.1f}%  {k}")


if __name__ == "__main__":
    import sys

    for p in sys.argv[1:]:
        print_summary(Path(p))
