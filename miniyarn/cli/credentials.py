"""`miniyarn credentials -init DIR [-export-nm DIR]`: make the cluster's secrets (docs/security.md), and
copy the NodeManagers' share of them into a directory of their own (compose mounts only that into NMs)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from miniyarn.security import credentials


# options.CONTEXT's help names, not imported: options pulls in completion and the REST client, which compose's
# one-shot credentials service (`python -m miniyarn.cli.credentials`, at every start) must not pay for.
@click.command("credentials", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-init", "init", metavar="DIR", required=True,
              help="the credentials directory: made if missing, secrets already in it are kept")
@click.option("-export-nm", "export_dir", metavar="DIR", default=None,
              help="also copy what a NodeManager needs (its Redis password, the HTTP signature secret)")
def command(init: str, export_dir: str | None) -> int:
    """make the cluster's secrets (Redis users, RM master key, HTTP signature secret)"""
    return run(init, export_dir)


def export_nm(creds: credentials.Credentials, dest: Path) -> list[str]:
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o700)
    names = [credentials.redis_password_file("nm"), credentials.HTTP_SECRET]
    for name in names:
        shutil.copyfile(creds.dir / name, dest / name)
        (dest / name).chmod(0o600)
    return names


def run(init: str, export_dir: str | None) -> int:
    try:
        creds = credentials.ensure(init)
        print(f"Credentials in {creds.dir}: {', '.join(sorted(p.name for p in creds.dir.iterdir()))}")
        if export_dir:
            names = export_nm(creds, Path(export_dir))
            print(f"NodeManager credentials in {export_dir}: {', '.join(names)}")
    except OSError as e:
        print(f"miniyarn credentials: {e}", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    """`python -m miniyarn.cli.credentials`: the same command without the `miniyarn` CLI's other imports
    (compose's one-shot credentials service runs it at every start, before Redis may start)."""
    try:
        rc = command.main(prog_name="miniyarn credentials", standalone_mode=False)
    except click.ClickException as e:
        e.show()
        return e.exit_code
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
