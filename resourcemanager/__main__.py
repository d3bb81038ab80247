"""`python -m resourcemanager`."""

from __future__ import annotations

import argparse
import sys

from resourcemanager.cli import add_arguments, run


def main() -> int:
    parser = argparse.ArgumentParser(prog="miniyarn resourcemanager", description="The miniyarn ResourceManager")
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
