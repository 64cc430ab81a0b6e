import os

import pytest

from stitchnas.cli import main
from stitchnas.errors import StitchnasError
from stitchnas.costs import Budgets, Target, bundled_targets_dir, list_targets, load_target


def write(tmp_path, text, name="target.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_bundled_targets_load():
    assert {"cpu", "cuda", "flops_budget", "params_budget"} <= set(list_targets())
    assert list_targets("cu*") == ["cuda"]
    assert bundled_targets_dir().is_dir()
    cpu = load_target("cpu")
    assert cpu.measurable and cpu.device == "cpu" and cpu.threads == 2 and cpu.batch_size == 1
    assert cpu.dtype == "float32" and cpu.input_size is None
    cuda = load_target("cuda")
    assert cuda.device == "cuda:0" and cuda.dtype == "float16" and cuda.batch_size == 64
    assert cuda.budgets.max_latency_ms == 20.0
    flops = load_target("flops_budget")
    assert not flops.measurable and flops.device is None and flops.cost_model == "flops"
    assert flops.budgets.max_flops == 5_000_000_000 and isinstance(flops.budgets.max_flops, int)
    assert load_target("params_budget").budgets.max_params == 25_000_000
    assert load_target(cpu) is cpu and load_target(cpu.path) == cpu


def test_target_from_yaml_path_with_budgets(tmp_path):
    path = write(tmp_path, "name: edge\ndevice: cpu\nthreads: 1\nbatch_size: 4\ndtype: bfloat16\n"
                           "input_size: [3, 160, 160]\n"
                           "budgets: {max_latency_ms: 20, max_flops: 1.5e9, max_memory_mb: 64.5}\n")
    t = load_target(str(path))
    assert t.name == "edge" and t.batch_size == 4 and t.input_size == (3, 160, 160)
    assert t.budgets.max_flops == 1_500_000_000  # YAML reads 1.5e9 as a string: accepted
    assert t.resolved_input_size((3, 224, 224)) == (3, 160, 160)
    assert "batch 4" in t.describe() and "max_flops" in t.describe()
    nameless = write(tmp_path, "device: cpu\n", "nameless.yaml")
    assert load_target(nameless).name == "nameless"


def test_budget_violations():
    b = Budgets(max_latency_ms=20, max_flops=1.5e9)
    assert b.max_flops == 1_500_000_000 and b.active == {"max_latency_ms": 20.0, "max_flops": 1_500_000_000}
    assert b.violations(latency_ms=19.0, flops=10) == []
    out = b.violations(latency_ms=25.5, flops=2e9, params=10**9)
    assert len(out) == 2 and "latency 25.5 ms > max_latency_ms 20" in out[0] and "flops" in out[1]
    assert b.satisfied(memory_mb=1e9)  # no memory budget, unknown costs are not checked
    assert not Budgets().active and Budgets().describe() == "no budgets"
    with pytest.raises(StitchnasError, match="must be positive"):
        Budgets(max_params=-1)


@pytest.mark.parametrize(
    "text, message",
    [
        ("devcie: cpu\n", "unknown key(s) 'devcie' (did you mean 'device'?)"),
        ("device: cpu\nbudgets: {max_latency: 3}\n", "unknown budget(s) ['max_latency'] (did you mean 'max_latency_ms'?)"),
        ("device: cpu\nbudgets: {max_latency_ms: -3}\n", "max_latency_ms must be positive"),
        ("device: cpu\nbudgets: {max_flops: lots}\n", "max_flops must be a number"),
        ("device: cpu\nbudgets: {max_params: 1.5}\n", "max_params must be a whole number"),
        ("device: cpu\nbudgets: [1, 2]\n", "budgets must be a mapping"),
        ("device: cpu\nbatch_size: two\n", "batch_size must be a positive integer"),
        ("device: cpu\nthreads: 0\n", "threads must be a positive integer"),
        ("device: cpu\ndtype: float64\n", "dtype must be one of float32, float16, bfloat16"),
        ("device: tpu\n", "device must be cpu, cuda, cuda:N"),
        ("device: null\n", "a latency target needs a device"),
        ("cost_model: energy\n", "cost_model must be one of latency, flops, params"),
        ("cost_model: flops\nbudgets: {max_latency_ms: 5}\n", "max_latency_ms needs latency measured"),
        ("device: cpu\ninput_size: [224, 224]\n", "input_size must be [channels, height, width]"),
        ("- device: cpu\n", "must be a YAML mapping"),
        ("device: [cpu\n", "is not valid YAML at line"),
    ],
)
def test_bad_target_files(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(StitchnasError) as err:
        load_target(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_unknown_target_suggests_close_names(tmp_path):
    with pytest.raises(StitchnasError, match=r"unknown target 'cdua'.*did you mean cuda"):
        load_target("cdua")
    with pytest.raises(StitchnasError, match="does not exist"):
        load_target(tmp_path / "missing.yaml")


def test_a_front_folder_named_like_a_bundled_target_does_not_hide_it(tmp_path, monkeypatch):
    """Inside results/SPACE/ the fronts' folders are named after their targets: `--target
    cpu_batch64` there still means the bundled target; a folder given as a path, or one no bundled
    target is named after, is still a one-line error."""
    monkeypatch.chdir(tmp_path)
    for name in ("cpu_batch64", "mine"):
        (tmp_path / name).mkdir()
    assert load_target("cpu_batch64").batch_size == 64
    for given in (f".{os.sep}cpu_batch64", "mine"):
        with pytest.raises(StitchnasError, match=r"^target file .*(cpu_batch64|mine) is a folder, not a file"):
            load_target(given)


def test_target_dataclass_validates():
    with pytest.raises(StitchnasError, match="batch_size"):
        Target(name="x", batch_size=0)
    with pytest.raises(StitchnasError, match="needs a device"):
        Target(name="x", device=None)
    assert Target(name="f", device=None, cost_model="params").measurable is False


def test_cli_targets_and_bad_target(capsys, tmp_path):
    assert main(["targets"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == len(list_targets()) and "flops (fvcore, no device)" in out
    bad = write(tmp_path, "device: cpu\nbudgets: {max_flops: -1}\n")
    assert main(["profile-latency", "tiny_test", "--target", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stitchnas: error: target file") and err.count("\n") == 1
    assert main(["profile-latency", "tiny_test", "--target", "cpux"]) == 2
    assert "did you mean cpu" in capsys.readouterr().err


def test_the_targets_commands_fall_back_to_are_bundled_and_flops_has_no_budget():
    """`stitchnas run` without run.targets and `bench search` without --target use these names:
    a renamed or removed target file would break them on first use."""
    import inspect

    from stitchnas.bench import bench_search
    from stitchnas.workflows import RunConfig

    names = [*RunConfig().targets, inspect.signature(bench_search).parameters["target"].default]
    for name in names:
        assert load_target(name).name == name
    flops = load_target("flops")
    assert flops.cost_model == "flops" and flops.device is None and flops.budgets == Budgets()
