"""``python -m bench [checks] [options]`` (``make bench ARGS="..."``); see bench/README.md."""

from __future__ import annotations

import argparse
import sys

from bench import checks


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    checks.add_arguments(
        sub.add_parser("checks", help="the check cycle against a naive baseline (default)")
    )
    if not argv or argv[0] not in ("checks", "-h", "--help"):
        argv = ["checks", *argv]
    args = parser.parse_args(argv)
    return checks.main(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
