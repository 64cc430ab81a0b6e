"""``pytest -n auto`` (the README's test command): how many workers, and torch's threads in each."""

import os

import pytest
import torch

from support import parallel, write_files
from support.parallel import auto_workers, memory_gb, worker_threads

from stitchnas.costs import usable_cpus


def test_memory_is_what_is_available_capped_by_the_cgroup_limit(tmp_path):
    write_files(tmp_path, {"meminfo": "MemTotal: 32000000 kB\nMemAvailable: 20000000 kB\n"})
    assert memory_gb(tmp_path, tmp_path / "meminfo") == pytest.approx(20.48)
    write_files(tmp_path, {"memory/memory.limit_in_bytes": "9223372036854771712\n"})  # v1: no limit
    assert memory_gb(tmp_path, tmp_path / "meminfo") == pytest.approx(20.48)
    write_files(tmp_path, {"memory.max": "6000000000\n"})
    assert memory_gb(tmp_path, tmp_path / "meminfo") == pytest.approx(6.0)


def test_auto_workers_are_capped_by_the_cpu_quota_and_by_memory(tmp_path):
    write_files(tmp_path, {"meminfo": "MemAvailable: 100000000 kB\n", "cpu.max": "max 100000\n"})
    assert auto_workers(tmp_path, tmp_path / "meminfo") == usable_cpus(tmp_path) == len(os.sched_getaffinity(0))
    write_files(tmp_path, {"cpu.max": "100000 100000\n"})
    assert auto_workers(tmp_path, tmp_path / "meminfo") == 1
    write_files(tmp_path, {"cpu.max": "max 100000\n", "memory.max": str(int(parallel.WORKER_GB * 1e9)) + "\n"})
    assert auto_workers(tmp_path, tmp_path / "meminfo") == 1  # one worker's memory: one worker
    write_files(tmp_path, {"memory.max": "1000\n"})
    assert auto_workers(tmp_path, tmp_path / "meminfo") == 1  # never none


def test_worker_threads_share_the_cpus():
    assert [worker_threads(w, 2) for w in (1, 2, 3)] == [2, 1, 1]
    assert worker_threads(4, 16) == 4


def test_a_worker_runs_torch_on_its_share_of_the_cpus():
    if parallel.shared_threads is None:
        pytest.skip("not a pytest-xdist worker (pytest -n auto), or OMP_NUM_THREADS was given")
    count = int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    assert torch.get_num_threads() == parallel.shared_threads == worker_threads(count, usable_cpus())
    assert os.environ["OMP_NUM_THREADS"] == str(parallel.shared_threads)  # for the processes tests start
