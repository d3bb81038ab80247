"""`python -m nodemanager`."""

from __future__ import annotations

import argparse
import sys


def main() -> int:
    if "--check" in sys.argv[1:]:
        # A healthcheck: answered before the daemon's imports when its arguments say where to ask.
        from miniyarn.healthcheck import quick_nm_check

        quick = quick_nm_check(sys.argv[1:])
        if quick is not None:
            return quick
    from nodemanager.cli import add_arguments, run

    parser = argparse.ArgumentParser(prog="miniyarn nodemanager", description="The miniyarn NodeManager")
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
