"""`python -m resourcemanager`."""

from __future__ import annotations

import argparse
import sys


def main() -> int:
    if "--check" in sys.argv[1:]:
        # A healthcheck: answered before the daemon's imports when its arguments say where to ask.
        from miniyarn.healthcheck import quick_rm_check

        quick = quick_rm_check(sys.argv[1:])
        if quick is not None:
            return quick
    from resourcemanager.cli import add_arguments, run

    parser = argparse.ArgumentParser(prog="miniyarn resourcemanager", description="The miniyarn ResourceManager")
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
