"""Output piped into a reader that is already gone (`| head -1` after its line) ends quietly:
exit 0, nothing on stderr, whether the write fails inside the command or at its last flush."""

import subprocess
import sys

import pytest
from support import REPO


@pytest.mark.parametrize("unbuffered", [False, True])
def test_listing_into_a_closed_pipe_is_quiet(unbuffered):
    argv = [sys.executable, *(["-u"] if unbuffered else []), "-m", "stitchnas", "spaces"]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before anything is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert err == "", err
