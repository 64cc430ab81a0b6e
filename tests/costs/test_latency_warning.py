"""A latency table that does not hold is said so in one line with what to do: by the function,
by `stitchnas profile-latency` (stderr, exit 0) and never for a table within the limits."""

from pathlib import Path

import pytest
from support import run_cli

from stitchnas.costs import latency_warning, profile_latency, validation_error
from stitchnas.space import load_space


@pytest.fixture(scope="module")
def table():
    # a real table of the tiny space on this machine, validated on every candidate
    return profile_latency(load_space("tiny_test"), "cpu", repeats=5, warmup=1, validate=4,
                           progress=False)


def test_a_table_failing_its_validation_is_named_with_its_figures_and_the_fixes(table):
    err = validation_error(table.validation)
    below = latency_warning(table, max_median_pct=err["median_ape_pct"] / 2,
                            max_worst_pct=err["worst_ape_pct"] / 2)
    assert below is not None and "\n" not in below
    assert f"median {err['median_ape_pct']:.1f}% / worst {err['worst_ape_pct']:.1f}%" in below
    for fix in ("--repeats", "quieter machine", "bigger batch"):
        assert fix in below
    assert "batch_size above 1, e.g. cpu_batch64" in below  # the table's batch is 1
    from dataclasses import replace

    target = dict(table.target, settings=dict(table.target["settings"], batch_size=64))
    at64 = latency_warning(replace(table, target=target), max_median_pct=err["median_ape_pct"] / 2,
                           max_worst_pct=err["worst_ape_pct"] / 2)
    assert "batch_size above 64)" in at64 and "cpu_batch64" not in at64  # not the batch it has
    above = latency_warning(table, max_median_pct=err["median_ape_pct"] + 1,
                            max_worst_pct=err["worst_ape_pct"] + 1)
    assert above is None or "validation error" not in above  # only the noise check may remain


def test_an_unvalidated_table_is_not_trusted(table):
    from dataclasses import replace

    line = latency_warning(replace(table, validation=None))
    assert "not validated" in line and "--validate" in line


def test_profile_latency_warns_in_one_stderr_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path))
    code, out, err = run_cli(capsys, "profile-latency", "tiny_test", "--target", "cpu",
                             "--repeats", "3", "--warmup", "0", "--validate", "0")  # not validated: a warning
    assert code == 0 and "table:" in out
    warnings = [ln for ln in err.splitlines() if ln.startswith("stitchnas: warning:")]
    assert len(warnings) == 1 and "not validated" in warnings[0]
    # the suggested command names the space and target as given, so it validates this table
    assert warnings[0].endswith("stitchnas profile-latency tiny_test --target cpu --validate 12")
    space_file = tmp_path / "my.yaml"
    space_file.write_text(Path(load_space("tiny_test").path).read_text())
    code, out, err = run_cli(capsys, "profile-latency", space_file, "--target", "cpu",
                             "--repeats", "3", "--warmup", "0", "--validate", "0")
    assert code == 0 and err.rstrip().endswith(
        f"stitchnas profile-latency {space_file} --target cpu --validate 12"), err


def test_profile_latency_validates_by_default(tmp_path, capsys, monkeypatch):
    """Without --validate a new table is validated on DEFAULT_VALIDATE candidates, as `run`'s
    are; a table reused without a validation gets one; a validated one is reused as it is
    (no timing); --validate 0 skips it and says so."""
    from stitchnas.costs import DEFAULT_VALIDATE
    from stitchnas.costs import _validate

    monkeypatch.setenv("STITCHNAS_RESULTS", str(tmp_path))
    argv = ("profile-latency", "tiny_test", "--target", "cpu", "--repeats", "3", "--warmup", "0")
    assert f"default: {DEFAULT_VALIDATE}," in " ".join(run_cli(capsys, *argv[:4], "--help")[1].split())
    code, out, err = run_cli(capsys, *argv, "--validate", "0")
    assert code == 0 and "not validated" in err and "validation plot" not in out
    assert not list(tmp_path.glob("latency/*.png"))  # nothing to draw without a validation
    code, out, err = run_cli(capsys, *argv)  # the same table, now validated
    assert code == 0 and "reused the table" in out and f"validation on {DEFAULT_VALIDATE} candidates" in out
    assert "not validated" not in err
    tables = list(tmp_path.glob("latency/*.json"))  # the check drawn beside the table, and named
    png = tables[0].with_suffix(".png")
    assert len(tables) == 1 and png.read_bytes()[:4] == b"\x89PNG"
    assert f"validation plot (table against timed end to end): {png}" in out

    def no_timing(*a, **kw):
        raise AssertionError("a validated table was timed again")

    monkeypatch.setattr(_validate, "validate_latency", no_timing)
    monkeypatch.setattr("stitchnas.costs.validate_latency", no_timing)
    drawn = png.stat().st_mtime_ns
    code, out, err = run_cli(capsys, *argv)
    assert code == 0 and f"validation on {DEFAULT_VALIDATE} candidates" in out
    assert png.stat().st_mtime_ns == drawn and str(png) in out  # the same table's plot is kept, named
    code, out, err = run_cli(capsys, *argv, "--force", "--validate", "0")
    assert code == 0 and "not validated" in err


def test_a_cpu_table_timed_with_more_threads_than_cores_is_not_trusted(tmp_path, table):
    """Threads beyond the cores share them: such a table does not time the target's machine.
    The table records the cores it was timed on; one within them has no such line."""
    from stitchnas.costs import load_target, usable_cpus

    cores = usable_cpus()
    assert table.meta["cpu_cores"] == cores
    said = latency_warning(table)
    if table.machine["threads"] <= cores:  # the bundled cpu target's 2 threads, on 2 or more cores
        assert said is None or "threads on" not in said
    path = tmp_path / "wide.yaml"
    path.write_text(f"name: wide\ndevice: cpu\ncost_model: latency\nthreads: {cores + 2}\nbatch_size: 1\n")
    wide = profile_latency(load_space("tiny_test"), load_target(path), repeats=2, warmup=1, progress=False)
    line = latency_warning(wide)
    assert line == (f"the wide latency table is not to be trusted: timed with {cores + 2} threads on {cores} "
                    f"core{'s' * (cores != 1)}, which they share: that is not the latency of a machine with "
                    f"{cores + 2} cores; "
                    f"profile on the target's machine, or give the target threads: {cores} here")


def test_a_container_cpu_quota_is_the_cores_a_table_was_timed_on(tmp_path, monkeypatch):
    """A container given one CPU (cgroup quota) sees every core in its affinity and is throttled
    past one: a table timed there with two threads is not trusted, and says why."""
    from stitchnas.costs import load_target

    (tmp_path / "cgroup").mkdir()
    (tmp_path / "cgroup" / "cpu.max").write_text("100000 100000\n")
    monkeypatch.setattr("stitchnas.costs._machine.CGROUP", tmp_path / "cgroup")
    path = tmp_path / "two.yaml"
    path.write_text("name: two\ndevice: cpu\ncost_model: latency\nthreads: 2\nbatch_size: 1\n")
    table = profile_latency(load_space("tiny_test"), load_target(path), repeats=2, warmup=1, progress=False)
    assert table.meta["cpu_cores"] == 1
    assert latency_warning(table) == (
        "the two latency table is not to be trusted: timed with 2 threads on 1 core, which they share: "
        "that is not the latency of a machine with 2 cores; profile on the target's machine, or give the "
        "target threads: 1 here")


def test_a_target_without_threads_is_timed_with_the_cpus_a_quota_leaves(tmp_path, monkeypatch):
    """torch's default counts the cores it sees; under a one-CPU quota a target that names no
    threads is timed with one, records it, is trusted, and torch's own setting is given back."""
    import torch

    from stitchnas.costs import load_target, timing_threads

    (tmp_path / "cgroup").mkdir()
    (tmp_path / "cgroup" / "cpu.max").write_text("100000 100000\n")
    monkeypatch.setattr("stitchnas.costs._machine.CGROUP", tmp_path / "cgroup")
    path = tmp_path / "plain.yaml"
    path.write_text("name: plain\ndevice: cpu\ncost_model: latency\nbatch_size: 1\n")
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # as torch's default on a host of two or more cores
    try:
        assert timing_threads() == 1 and timing_threads(3) == 3  # a target's own threads are its own
        table = profile_latency(load_space("tiny_test"), load_target(path), repeats=2, warmup=1, progress=False)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert table.machine["threads"] == 1 and table.meta["cpu_cores"] == 1
    said = latency_warning(table)
    assert said is None or "threads on" not in said
