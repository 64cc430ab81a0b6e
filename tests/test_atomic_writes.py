"""Files are never half-written: a process SIGKILLed in the middle of writing a measurements file,
a checkpoint or a front (half the bytes out, or all of them but not yet renamed) leaves the
previous version byte for byte, readable, and nothing but a hidden temporary file beside it.

The child process slows itself down at the chosen point (it patches ``os.fdopen`` / ``os.replace``
for the one file under test), says so on stdout, and is killed there.
"""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from support import REPO
from support.tiny import costs, row, space  # noqa: F401 - fixtures

from stitchnas.network import read_checkpoint, save_checkpoint
from stitchnas.fronts import load_front, save_front
from stitchnas.measure import read_measurements, write_measurements
from stitchnas.network import StitchedNetwork
from stitchnas.optimize import SearchConfig, search

ENV = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
           PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))

# Runs in the child: patch the write of PATH to stop at POINT, then run WRITE (Python source).
HARNESS = textwrap.dedent('''
    import os, sys, time
    path, point, write = sys.argv[1], sys.argv[2], sys.argv[3]
    name = os.path.basename(path)
    real_fdopen, real_replace = os.fdopen, os.replace

    def ours(fd_or_path):
        target = os.readlink(f"/proc/self/fd/{fd_or_path}") if isinstance(fd_or_path, int) else str(fd_or_path)
        return os.path.basename(target).startswith(f".{name}.")

    def stop():
        print("STOPPED", flush=True)
        time.sleep(600)

    class Halting:
        def __init__(self, fh):
            self._fh = fh
        def write(self, data):
            self._fh.write(data[: max(1, len(data) // 2)])
            self._fh.flush()
            os.fsync(self._fh.fileno())
            stop()
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return self._fh.__exit__(*exc)
        def __getattr__(self, attr):
            return getattr(self._fh, attr)

    def fdopen(fd, *args, **kwargs):
        fh = real_fdopen(fd, *args, **kwargs)
        return Halting(fh) if point == "mid-write" and ours(fd) else fh

    def replace(src, dst, *args, **kwargs):
        if point == "before-rename" and ours(src):
            stop()
        return real_replace(src, dst, *args, **kwargs)

    os.fdopen, os.replace = fdopen, replace
    exec(write)
''')


def kill_while_writing(path, point, write):
    proc = subprocess.Popen([sys.executable, "-c", HARNESS, str(path), point, textwrap.dedent(write)],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "STOPPED", proc.stderr.read()
        temps = [p for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.")]
        assert len(temps) == 1 and temps[0].stat().st_size > 0  # the new version, partly written
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    leftovers = sorted(p.name for p in path.parent.iterdir() if p.name.startswith(f".{path.name}."))
    assert len(leftovers) == 1 and leftovers[0].endswith(".tmp")  # hidden, never the real name
    return leftovers


def rows(space, costs, ids, acc1):
    return [row(space, costs, i, acc1) for i in ids]


@pytest.mark.parametrize("point", ["mid-write", "before-rename"])
def test_killed_measurements_write_leaves_the_previous_file(space, costs, tmp_path, point):
    path = tmp_path / "m.jsonl"
    write_measurements(path, rows(space, costs, range(6), 50.0))
    before = path.read_bytes()
    kill_while_writing(path, point, f"""
        from stitchnas.measure import Measurement, write_measurements, read_measurements
        from stitchnas.space import load_space
        space = load_space("tiny_test")
        old = read_measurements({str(path)!r}, space)
        new = [Measurement(**{{**m.__dict__, "acc1": 99.0}}) for m in old] * 300
        write_measurements({str(path)!r}, new)
    """)
    assert path.read_bytes() == before
    assert [m.acc1 for m in read_measurements(path, space)] == [50.0] * 6
    # the dead writer's lock died with it: the next write goes through and merges
    out = write_measurements(path, rows(space, costs, [7], 60.0))
    assert [m.id for m in out] == [0, 1, 2, 3, 4, 5, 7]


@pytest.mark.parametrize("point", ["mid-write", "before-rename"])
def test_killed_checkpoint_save_leaves_the_previous_checkpoint(space, tmp_path, point):
    path = tmp_path / "stitched.pt"
    net = StitchedNetwork(space, space.create_models(weights=False))
    save_checkpoint(path, net, anchors_tuned=True, state={"epoch": 1})
    before = path.read_bytes()
    kill_while_writing(path, point, f"""
        import torch
        from stitchnas.network import load_network, save_checkpoint
        from stitchnas.space import load_space
        net = load_network(load_space("tiny_test"), {str(path)!r})
        with torch.no_grad():
            for p in net.parameters():
                p.add_(1.0)
        save_checkpoint({str(path)!r}, net, anchors_tuned=True, state={{"epoch": 2}})
    """)
    assert path.read_bytes() == before
    assert read_checkpoint(path, space)["state"] == {"epoch": 1}


def test_killed_front_save_leaves_the_previous_front(space, costs, tmp_path):
    mfile = tmp_path / "m.jsonl"
    write_measurements(mfile, rows(space, costs, range(6), 50.0))
    r = search(space, "flops_budget", SearchConfig(measurements=mfile, predictor="flops", n_trials=10,
                                                   storage="memory", save=False))
    out = tmp_path / "front"
    path = save_front(r.front, out, space=space)
    before = path.read_bytes()
    kill_while_writing(path, "mid-write", f"""
        import dataclasses
        from stitchnas.fronts import load_front, save_front
        front = load_front(path={str(path)!r})
        save_front(dataclasses.replace(front, members=front.members[:1]), {str(out)!r})
    """)
    assert path.read_bytes() == before
    assert load_front(path=path).members == r.front.members
