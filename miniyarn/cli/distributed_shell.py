"""`miniyarn distributed-shell -shell_command CMD [-num_containers N] ...`: YARN's DistributedShell client's
options (single-dash as YARN spells them, with the double-dash forms the argparse CLI took); the client itself
is miniyarn/distributedshell/client.py."""

from __future__ import annotations

import click

from miniyarn.cli.options import CONTEXT, rm_address_option
from miniyarn.distributedshell.client import ShellRequest, run


@click.command("distributed-shell", context_settings=CONTEXT)
@click.option("--shell-command", "-shell_command", "shell_command", required=True,
              help="command to run in each container")
@click.option("--num-containers", "-num_containers", "num_containers", type=int, default=1)
@click.option("--container-memory", "-container_memory", "container_memory", type=int, default=256,
              help="MB per container")
@click.option("--container-vcores", "-container_vcores", "container_vcores", type=int, default=1)
@click.option("--master-memory", "-master_memory", "master_memory", type=int, default=256, help="MB for the AM")
@click.option("--queue", "-queue", "queue", default="default")
@click.option("--appname", "-appname", "appname", default="DistributedShell")
@click.option("--shell-env", "-shell_env", "shell_env", multiple=True, metavar="K=V")
@click.option("--timeout", "-timeout", "timeout", type=int, default=600000, help="ms before the client kills the app")
@rm_address_option
def command(shell_command: str, num_containers: int, container_memory: int, container_vcores: int,
            master_memory: int, queue: str, appname: str, shell_env: tuple[str, ...], timeout: int,
            rm_address: str | None) -> int:
    """run a shell command in N containers (YARN's DistributedShell)"""
    return run(ShellRequest(shell_command, num_containers, container_memory, container_vcores, master_memory, queue,
                            appname, shell_env, timeout, rm_address))
