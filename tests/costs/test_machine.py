"""The machine a table is timed on: the CPUs a container's cgroup quota lets this process use."""

import os

import pytest
from support import write_files

from stitchnas.costs import cpu_quota, usable_cpus


@pytest.mark.parametrize("files, cpus", [
    ({}, None),
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu.max": "150000 100000\n"}, 1.5),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "400000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 4.0),
])
def test_cpu_quota_reads_cgroup_v1_and_v2(tmp_path, files, cpus):
    write_files(tmp_path, files)
    assert cpu_quota(tmp_path) == cpus


def test_usable_cpus_are_the_affinity_capped_by_the_quota(tmp_path):
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert usable_cpus(tmp_path) == affinity  # no cgroup files: no quota
    write_files(tmp_path, {"cpu.max": "max 100000\n"})
    assert usable_cpus(tmp_path) == affinity
    write_files(tmp_path, {"cpu.max": "50000 100000\n"})
    assert usable_cpus(tmp_path) == 1  # half a CPU: still one
    write_files(tmp_path, {"cpu.max": f"{(affinity + 3) * 100000} 100000\n"})
    assert usable_cpus(tmp_path) == affinity  # a quota above the affinity does not add cores


def test_reports_name_the_usable_cores_where_fewer_than_the_machine_has(tmp_path):
    from stitchnas.costs import cores_said

    total = os.cpu_count()
    write_files(tmp_path, {"cpu.max": "max 100000\n"})
    affinity = usable_cpus(tmp_path)
    said = f"{total} cores" if affinity == total else f"{total} cores, {affinity} usable"
    assert cores_said(tmp_path) == said
    write_files(tmp_path, {"cpu.max": "100000 100000\n"})
    assert cores_said(tmp_path) == (f"{total} cores, 1 usable" if total > 1 else "1 core")
