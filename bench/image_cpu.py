"""CPU (user + system) of the commands a compose cluster and a docker deploy run inside the image, the
median of --repeat runs each: the healthchecks Docker runs every second in the RM and NM containers, the
credentials service everything waits for, the JobManager's and a TaskManager's imports. CPU, not wall
time: it does not move with the machine's load, so images compare on a busy machine too.

    python bench/image_cpu.py [--image miniyarn:latest] [--repeat 5]

Runs one `docker run --rm --network none <image>` with this file mounted; inside, each command is a child
process measured by getrusage(RUSAGE_CHILDREN). Nothing listens in there, so the checks measure a Python
start plus a refused connection: the cost of a check, not its answer.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile

COMMANDS = {
    "rm --check": ["python", "-m", "resourcemanager", "--check", "--port", "1"],
    "nm --check": ["python", "-m", "nodemanager", "--check", "--local-dirs", "/tmp"],
    "credentials -init (CLI)": ["miniyarn", "credentials", "-init", "{tmp}/c", "-export-nm", "{tmp}/n"],
    "credentials -init (module)": ["python", "-m", "miniyarn.cli.credentials", "-init", "{tmp}/c", "-export-nm",
                                   "{tmp}/n"],
    "import appmaster (JM)": ["python", "-c", "import flink_on_yarn.yarn.appmaster"],
    "import task_main (TM)": ["python", "-c", "import flink_on_yarn.runtime.task_main"],
    "bare python": ["python", "-c", "import urllib.request"],
}


def inside(repeat: int) -> None:
    for name, argv in COMMANDS.items():
        cpu = []
        ok = True
        for _ in range(repeat):
            tmp = tempfile.mkdtemp()
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            done = subprocess.run([a.format(tmp=tmp) for a in argv], capture_output=True)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            # The credentials commands must have made the secrets (an image without the module's main runs
            # nothing and exits 0).
            made = "credentials" not in name or os.path.isdir(os.path.join(tmp, "c"))
            shutil.rmtree(tmp, ignore_errors=True)
            cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
            # The checks exit 1 (nothing listens); anything else failing means the command is not in this image.
            ok = ok and made and (done.returncode == 0 or "--check" in name)
        note = "" if ok else "  (failed: not in this image?)"
        print(f"{name:28} median {statistics.median(cpu) * 1000:5.0f} ms CPU, min {min(cpu) * 1000:5.0f} ms{note}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", default=os.environ.get("MINIYARN_IMAGE", "miniyarn:latest"))
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.inside:
        inside(args.repeat)
        return 0
    here = os.path.abspath(__file__)
    print(f"{args.image}: CPU of each command, {args.repeat} runs")
    return subprocess.run(["docker", "run", "--rm", "--network", "none", "-v", f"{here}:/tmp/image_cpu.py:ro",
                           args.image, "python", "/tmp/image_cpu.py", "--inside", "--repeat",
                           str(args.repeat)]).returncode


if __name__ == "__main__":
    sys.exit(main())
