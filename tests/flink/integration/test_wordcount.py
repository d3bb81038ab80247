"""Word count over a file on a real JobManager and TaskManagers: exact counts at p = 1, 2 and 4."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.flink.conftest import ROOT, FlinkCluster

pytestmark = pytest.mark.integration


def read_counts(out: Path) -> Counter[str]:
    """The last count per word: each word goes to one subtask, whose file lists its running counts in order."""
    final: Counter[str] = Counter()
    files = [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert files, f"no committed part files under {out}"
    for p in files:
        for line in p.read_text().splitlines():
            word, count = line.strip("()").rsplit(",", 1)
            final[word] = max(final[word], int(count))
    return final


def expected(path: Path) -> Counter[str]:
    return Counter(w for line in path.read_text().splitlines() for w in line.lower().split())


@pytest.mark.parametrize("parallelism", [1, 2, 4])
def test_file_wordcount_exact(flink: Callable[..., FlinkCluster], words_file: Path, tmp_path: Path,
                              parallelism: int) -> None:
    cluster = flink(tms=2, slots=2)
    out = tmp_path / f"out-{parallelism}"
    res = cluster.miniflink("run", "-m", cluster.rest, "-p", str(parallelism), "-py",
                            str(ROOT / "examples/wordcount.py"), "--input", str(words_file), "--output", str(out))
    assert res.returncode == 0, res.stderr
    assert "Job has been submitted with JobID " in res.stdout
    job_id = res.stdout.split("JobID ")[1].split()[0]
    info = cluster.get(f"/jobs/{job_id}")
    assert info["state"] == "FINISHED"
    assert max(v["parallelism"] for v in info["vertices"]) == parallelism
    assert read_counts(out) == expected(words_file)


def test_batch_mode_emits_final_counts_only(flink: Callable[..., FlinkCluster], words_file: Path,
                                            tmp_path: Path) -> None:
    cluster = flink(tms=1, slots=2)
    out = tmp_path / "out-batch"
    res = cluster.miniflink("run", "-m", cluster.rest, "-p", "2", "-py", str(ROOT / "examples/wordcount.py"),
                            "--input", str(words_file), "--output", str(out), "--batch")
    assert res.returncode == 0, res.stderr
    lines = [ln for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")
             for ln in p.read_text().splitlines()]
    want = expected(words_file)
    assert len(lines) == len(want)
    assert read_counts(out) == want
