"""Summarise a py-spy raw profile (``--format raw``, as ``--profile`` writes it):
``python -m bench.pyspy artifacts/bench-profile-worker-checks.txt [--top 25]``.

Prints the busiest functions by own time and by inclusive time, as a share of all
samples (py-spy leaves idle threads out, so 100 % is "always busy")."""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r":\d+\)$")


def _frame(frame: str) -> str:
    """``func (path/file.py:123)`` -> ``func (path/file.py)``."""
    return _LINE.sub(")", frame.strip())


def load(path: Path) -> tuple[int, Counter[str], Counter[str]]:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [
            _frame(f) for f in stack.split(";") if f and not f.startswith(("process ", "thread "))
        ]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return total, own, inclusive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--match", default="", help="inclusive list: only frames matching this regex"
    )
    args = parser.parse_args()
    total, own, inclusive = load(args.profile)
    print(f"{args.profile}: {total} samples")
    print("own time:")
    for frame, count in own.most_common(args.top):
        print(f"  {count / total:6.1%}  {frame}")
    print("inclusive time:")
    shown = 0
    for frame, count in inclusive.most_common():
        if not re.search(args.match, frame):
            continue
        print(f"  {count / total:6.1%}  {frame}")
        shown += 1
        if shown >= args.top:
            break


if __name__ == "__main__":
    main()
