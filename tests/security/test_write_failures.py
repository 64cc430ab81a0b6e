"""Writing can fail (a full disk, a read-only file system, a file where a folder should be, a
folder or device where a file should be, a size limit, an unusable cache or HOME): every writer
says so in one line naming the path and the fix, exit 2, before the work where it can be known
before, and keeps work already done (the merged rows go to a recovery file the line names).

Simulated the way that works for root and for non-root CI: RLIMIT_FSIZE (EFBIG), a path under a
regular file (ENOTDIR), a folder as the output (EISDIR), /dev/full, and a real tmpfs, full or
read-only, through ``unshare -rm`` where it is available (skipped otherwise). Each case runs the
real command line as a separate process under a memory and a time limit; every file in the
working folder is hashed before and after."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from stitchnas.fileio import check_writable, write_error, WriteError
from stitchnas.measure import Measurement
from stitchnas.space import load_space
from support.hostile import assert_refused, can_mount_tmpfs, env_for, hashes, in_tmpfs, run

SPACE = "tiny_test"
EVAL = ["evaluate", SPACE, "--data", "digits", "--anchors", "--val-subset", "40", "--quiet"]
MEAS = "m.jsonl"


def _rows(space, ids, note: str = "") -> str:
    out = []
    for i in ids:
        row = Measurement(id=i, route=space.candidate(i).route, acc1=40.0 + i, acc5=90.0, loss=1.0,
                          flops=1000 + i, params=10 + i, dataset="digits:val", checkpoint="c.pt",
                          space=space.name, space_hash=space.content_hash).to_json()
        if note:
            row["note"] = note
        out.append(json.dumps(row) + "\n")
    return "".join(out)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("write_failures")
    space = load_space(SPACE)
    (d / MEAS).write_text(_rows(space, range(space.num_ids)))
    (d / "afile").write_text("a file where a folder should be\n")
    (d / "folder").mkdir()
    (d / "results").mkdir()
    return d


def _check(work: Path, argv, *says, fsize=None, env=None, prefix=None) -> str:
    before = hashes(work)
    err = assert_refused(run(argv, work, fsize=fsize, env=env, prefix=prefix), *says)
    assert hashes(work) == before, "a file was created or changed"
    return err


# ---- the messages, one per class, in one place ----------------------------------------------
@pytest.mark.parametrize("code, says", [
    ("ENOSPC", "the disk is full; free space there or write elsewhere"),
    ("EROFS", "the file system is read-only; write to a writable folder"),
    ("EACCES", "permission denied; make it writable for this user or write elsewhere"),
    ("EFBIG", "exceed the size limit (ulimit -f); raise the limit or write elsewhere"),
    ("ENOTDIR", "a part of the path is a file, not a folder"),
    ("EISDIR", "it is a folder; give a file path, not a folder"),
])
def test_each_errno_has_one_message_with_the_fix(code, says):
    import errno

    err = write_error(OSError(getattr(errno, code), os.strerror(getattr(errno, code)), "/x/y\nz"),
                      "/x/y\nz", "measurements file")
    assert isinstance(err, WriteError)
    assert str(err).startswith("cannot write measurements file '/x/y\\nz': ") and says in str(err)
    assert "\n" not in str(err)


def test_check_writable_refuses_devices_folders_and_files_in_the_way(work):
    for path, says in [("/dev/full", "not a regular file"), (work / "folder", "it is a folder"),
                       (work / "afile" / "x.json", "a part of the path is a file")]:
        with pytest.raises(WriteError, match=says):
            check_writable(path)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode), "/dev/full was replaced"
    before = hashes(work)
    check_writable(work / "new" / "deeper" / "x.json")  # creates nothing that stays
    assert hashes(work) == before and not (work / "new").exists()


# ---- through the command line: every writer ---------------------------------------------------
CASES = {
    "evaluate-file-in-the-way": (EVAL + ["--out", "{w}/afile/m.jsonl"],
                                 ["cannot write measurements file", "afile/m.jsonl",
                                  "a part of the path is a file, not a folder"], None),
    "evaluate-out-is-folder": (EVAL + ["--out", "{w}/folder"], ["folder is a folder"], None),
    "evaluate-dev-full": (EVAL + ["--out", "/dev/full"], ["/dev/full", "not a regular file"], None),
    "evaluate-size-limit": (EVAL + ["--out", "{w}/new.jsonl"], ["exceed the size limit"], 0),
    "train-file-in-the-way": (["train", SPACE, "--data", "digits", "--max-steps", "1", "--out",
                               "{w}/afile/s.pt"], ["cannot write checkpoint", "a part of the path is a file"], None),
    "train-size-limit": (["train", SPACE, "--data", "digits", "--max-steps", "1", "--out", "{w}/s.pt"],
                         ["cannot write checkpoint", "exceed the size limit"], 0),
    "predict-file-in-the-way": (["predict", SPACE, "--measurements", "{w}/" + MEAS, "--out",
                                 "{w}/afile/p.jsonl"], ["cannot write predictions file", "a part of the path"], None),
    "predict-out-is-folder": (["predict", SPACE, "--measurements", "{w}/" + MEAS, "--out", "{w}/folder"],
                              ["cannot write predictions file", "it is a folder"], None),
    "profile-latency-file-in-the-way": (["profile-latency", SPACE, "--target", "cpu", "--out",
                                         "{w}/afile/l.json"], ["cannot write latency table", "a part of"], None),
    "profile-latency-dev-full": (["profile-latency", SPACE, "--target", "cpu", "--out", "/dev/full"],
                                 ["latency table /dev/full", "not a regular file"], None),
    "export-file-in-the-way": (["export", SPACE, "--id", "0", "--allow-random-weights", "--out", "{w}/afile/x"],
                               ["cannot write pt2 export", "afile/x.pt2", "a part of the path is a file"], None),
    "export-onnx-alone-file-in-the-way": (["export", SPACE, "--id", "0", "--allow-random-weights", "--format", "onnx", "--out",
                                           "{w}/afile/x"], ["cannot write onnx export", "a part of the path"], None),
    "search-file-in-the-way": (["search", SPACE, "--target", "flops_budget", "--measurements",
                                "{w}/" + MEAS, "--out", "{w}/afile/r"], ["afile/r/tiny_test/"], None),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_writer_fails_in_one_line(case, work):
    argv, says, fsize = CASES[case]
    _check(work, [a.replace("{w}", str(work)) for a in argv], *says, fsize=fsize)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@pytest.mark.parametrize("env, says", [
    ({"STITCHNAS_CACHE": "{w}/afile"}, ["STITCHNAS_CACHE=", "afile", "is a file",
                                         "set STITCHNAS_CACHE to a writable folder"]),
    ({"STITCHNAS_CACHE": "{w}/afile/sub"}, ["STITCHNAS_CACHE=", "is a file"]),
    ({"STITCHNAS_CACHE": None, "HOME": ""}, ["HOME='' is not an absolute folder", "set HOME, or STITCHNAS_CACHE"]),
    ({"STITCHNAS_CACHE": None, "HOME": "relative/home"}, ["HOME='relative/home'", "STITCHNAS_CACHE"]),
    ({"STITCHNAS_CACHE": None, "HOME": "{w}/afile"}, ["the cache folder", "is a file"]),
])
def test_unusable_cache_or_home_is_one_line_before_work(env, says, work):
    env = env_for(work, **{k: v.replace("{w}", str(work)) if v is not None else None for k, v in env.items()})
    _check(work, ["search", SPACE, "--target", "flops_budget", "--measurements", work / MEAS,
                  "--out", work / "out"], *says, env=env)


#: One command line per command that counts FLOPs (``needs_cache``); the test below fails when a
#: command gains ``needs_cache`` without a line here.
CACHE_COMMANDS = {
    "run": [SPACE], "search": [SPACE, "--target", "flops_budget"], "enumerate": [SPACE],
    "profile-latency": [SPACE, "--target", "cpu"], "predictor-cv": [SPACE, "--measurements", MEAS],
    "predict": [SPACE, "--measurements", MEAS], "suggest": [SPACE, "--measurements", MEAS],
    "train": [SPACE, "--data", "digits"], "evaluate": [SPACE, "--data", "digits", "--anchors"],
    "import-snnet": [MEAS, "--space", SPACE, "--out", "out.jsonl"], "study": [SPACE, "--data", "digits"],
}


def test_every_command_that_counts_flops_refuses_an_unusable_cache_before_importing_torch(work):
    """The cache is checked as the command starts: the line comes before torch is even imported
    (it came seconds in, after a space's structure was rebuilt from its models)."""
    from stitchnas.cli._main import COMMANDS

    assert {c.name for c in COMMANDS if c.needs_cache} == set(CACHE_COMMANDS)
    script = ("import sys; from stitchnas.cli import main; code = main(sys.argv[1:]); "
              "print(code, 'torch' in sys.modules)")
    env = env_for(work, STITCHNAS_CACHE=str(work / "afile"))
    for name, argv in CACHE_COMMANDS.items():
        proc = subprocess.run([sys.executable, "-c", script, name, *argv], cwd=work, env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert proc.stdout.split() == ["2", "False"], (name, proc.stdout, proc.stderr[-2000:])
        assert proc.stderr.count("\n") == 1 and "STITCHNAS_CACHE=" in proc.stderr, (name, proc.stderr)


# ---- a real full disk and a real read-only file system (tmpfs in a mount namespace) -------------
needs_tmpfs = pytest.mark.skipif(not can_mount_tmpfs(), reason="cannot mount a tmpfs (unshare -rm)")


@needs_tmpfs
def test_read_only_file_system(work):
    mnt = work / "ro"
    mnt.mkdir(exist_ok=True)
    _check(work, EVAL + ["--out", mnt / "m.jsonl"], "cannot write measurements file",
           "the file system is read-only", "write to a writable folder", prefix=in_tmpfs(mnt, "64k", read_only=True))


@needs_tmpfs
def test_export_to_a_read_only_file_system_fails_before_work(work):
    """Every format's file is checked before the model is traced (ONNX's temporary file was a
    traceback)."""
    mnt = work / "ro_export"
    mnt.mkdir(exist_ok=True)
    _check(work, ["export", SPACE, "--id", "0", "--allow-random-weights", "--format", "onnx", "--out", mnt / "x"],
           "cannot write onnx export", "the file system is read-only", prefix=in_tmpfs(mnt, "64k", read_only=True))


@needs_tmpfs
def test_full_disk_before_work(work):
    mnt = work / "full"
    mnt.mkdir(exist_ok=True)
    fill = ["sh", "-c", f'head -c 65536 /dev/zero > {mnt}/fill; exec "$@"', "sh"]
    _check(work, EVAL + ["--out", mnt / "m.jsonl"], "the disk is full", "free space there",
           prefix=in_tmpfs(mnt, "64k") + fill)


@needs_tmpfs
def test_full_disk_after_work_keeps_the_rows_in_a_recovery_file(work, tmp_path):
    """The probe fits, the merged file does not: the rows measured (and a user's notes on the
    file's rows) are saved to a recovery file that the one line names; the file stays as it was."""
    space = load_space(SPACE)
    mnt = work / "late"
    mnt.mkdir(exist_ok=True)
    old = _rows(space, range(2, space.num_ids), note="x" * 900)  # 12 rows, 3 pages
    (tmp_path / "old.jsonl").write_text(old)
    pages = -(-len(old.encode()) // 4096)
    fill = 4096 * (16 - pages - 2)  # 2 pages free: the probe fits, the rewritten file does not
    setup = (f'cp {tmp_path}/old.jsonl {mnt}/m.jsonl; head -c {fill} /dev/zero > {mnt}/fill; '
             'exec "$@"')
    env = env_for(work, TMPDIR=str(tmp_path))
    before = hashes(work)
    code, out, err = run(EVAL + ["--out", mnt / "m.jsonl"], work, env=env,
                         prefix=in_tmpfs(mnt, "64k") + ["sh", "-c", setup, "sh"])
    notes = "stitchnas: note: anchor"  # evaluate --anchors says the anchors have no weights
    err = "".join(line for line in err.splitlines(True) if not line.startswith(notes))
    assert_refused((code, out, err), "cannot write measurements file", "the disk is full",
                   "the 2 new row(s), merged with the file's, saved in", "once fixed, move it to")
    assert hashes(work) == before
    saved = [p for p in tmp_path.iterdir() if ".recovered." in p.name]
    assert len(saved) == 1 and str(saved[0]) in err
    rows = [json.loads(line) for line in saved[0].read_text().splitlines()]
    assert [r["id"] for r in rows] == list(range(space.num_ids))
    assert all(r.get("note") == "x" * 900 for r in rows if r["id"] >= 2), "a user's notes were lost"
    assert rows[0]["checkpoint"] == "none (anchor weights)"
