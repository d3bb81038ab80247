"""`python -m nodemanager`."""

from __future__ import annotations

import argparse
import sys

from nodemanager.cli import add_arguments, run


def main() -> int:
    parser = argparse.ArgumentParser(prog="miniyarn nodemanager", description="The miniyarn NodeManager")
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
