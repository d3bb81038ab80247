"""`miniyarn credentials -init DIR [-export-nm DIR]`: make the cluster's secrets (docs/security.md), and
copy the NodeManagers' share of them into a directory of their own (compose mounts only that into NMs)."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from miniyarn.security import credentials


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-init", metavar="DIR", required=True,
                        help="the credentials directory: made if missing, secrets already in it are kept")
    parser.add_argument("-export-nm", metavar="DIR", default=None,
                        help="also copy what a NodeManager needs (its Redis password, the HTTP signature secret)")


def export_nm(creds: credentials.Credentials, dest: Path) -> list[str]:
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o700)
    names = [credentials.redis_password_file("nm"), credentials.HTTP_SECRET]
    for name in names:
        shutil.copyfile(creds.dir / name, dest / name)
        (dest / name).chmod(0o600)
    return names


def run(args: argparse.Namespace) -> int:
    try:
        creds = credentials.ensure(args.init)
        print(f"Credentials in {creds.dir}: {', '.join(sorted(p.name for p in creds.dir.iterdir()))}")
        if args.export_nm:
            names = export_nm(creds, Path(args.export_nm))
            print(f"NodeManager credentials in {args.export_nm}: {', '.join(names)}")
    except OSError as e:
        print(f"miniyarn credentials: {e}", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    """`python -m miniyarn.cli.credentials`: the same command without the `miniyarn` CLI's other imports
    (compose's one-shot credentials service runs it at every start, before Redis may start)."""
    parser = argparse.ArgumentParser(prog="miniyarn credentials")
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
