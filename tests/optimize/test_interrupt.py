"""Ctrl-C during a search: one line that says what the storage kept, and the same search resumes.

A sampler stands in for the moment the user presses Ctrl-C: after a few trials it sends this
process a real SIGINT. Numpy's comparison of structured arrays, inside Optuna's samplers, turns
an interrupt it receives into a ``TypeError``; a sampler doing the same must still read as an
interrupt, and a ``TypeError`` without Ctrl-C as the failure it is.
"""

import os
import signal
import time

import optuna
import pytest
from support import run_cli
from support.tiny import MEASURED, costs, row, space  # noqa: F401 - fixtures

from stitchnas._util import sigint_watch
from stitchnas.errors import StitchnasError
from stitchnas.measure import write_measurements
from stitchnas.optimize import SearchConfig, SearchInterrupted, search


class StopAfter(optuna.samplers.RandomSampler):
    """Random search that, at trial ``after``, meets Ctrl-C (``how``: as a KeyboardInterrupt, as
    the TypeError numpy makes of one, or a TypeError with no Ctrl-C at all)."""

    def __init__(self, after, how="sigint"):
        super().__init__(seed=0)
        self.after, self.how = after, how

    def sample_independent(self, study, trial, name, distribution):
        if trial.number == self.after:
            if self.how == "error":
                raise TypeError("Cannot compare structured arrays unless they have a common dtype")
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(10)  # pragma: no cover - Python's handler raises before this returns
            except KeyboardInterrupt:
                if self.how == "sigint":
                    raise
                raise TypeError("Cannot compare structured arrays unless they have a common dtype") from None
        return super().sample_independent(study, trial, name, distribution)


@pytest.fixture(autouse=True)
def python_handles_ctrl_c():
    """Python's own SIGINT handler, as a terminal's Python has: a process started in the background
    by a shell without job control (CI, `nohup ... &`) inherits SIGINT ignored."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


@pytest.fixture
def mfile(space, costs, tmp_path):
    path = tmp_path / "m.jsonl"
    write_measurements(path, [row(space, costs, i) for i in MEASURED])
    return path


def config(mfile, tmp_path, sampler, n_trials=8):
    return SearchConfig(measurements=mfile, predictor="flops", sampler=sampler, n_trials=n_trials,
                        out_dir=tmp_path / "out", study_name="s")


@pytest.mark.parametrize("how", ["sigint", "swallowed"])
def test_ctrl_c_keeps_the_finished_trials_and_the_same_search_resumes(space, mfile, tmp_path, how):
    with pytest.raises(SearchInterrupted, match=r"the trials finished so far are kept in study 's' of "
                                                r"sqlite:///.*search\.db: the same command resumes"):
        search(space, "flops", config(mfile, tmp_path, StopAfter(3, how)))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    db = f"sqlite:///{tmp_path / 'out' / space.name / 'search.db'}"
    kept = optuna.load_study(study_name="s", storage=db).get_trials(
        states=(optuna.trial.TrialState.COMPLETE,))
    assert len(kept) == 3 and not (tmp_path / "out" / space.name / "flops" / "front.json").exists()
    r = search(space, "flops", config(mfile, tmp_path, optuna.samplers.RandomSampler(seed=1)))
    assert r.n_trials_done == 8 and r.path.exists()


def test_an_error_without_ctrl_c_is_a_failure_not_an_interrupt(space, mfile, tmp_path):
    with pytest.raises(StitchnasError, match="failed: TypeError: Cannot compare structured arrays"):
        search(space, "flops", config(mfile, tmp_path, StopAfter(2, "error")))


def test_an_in_memory_study_says_nothing_was_kept(space, mfile, tmp_path):
    cfg = config(mfile, tmp_path, StopAfter(2))
    with pytest.raises(SearchInterrupted, match="^the study was in memory: nothing was kept$"):
        search(space, "flops", SearchConfig(**{**cfg.__dict__, "storage": "memory"}))


def test_the_cli_prints_one_line_and_exits_130(space, mfile, tmp_path, capsys, monkeypatch):
    # the sampler --sampler makes
    monkeypatch.setattr("stitchnas.optimize._study.make_sampler", lambda *a, **k: StopAfter(2))
    code, out, err = run_cli(capsys, "search", "tiny_test", "--target", "flops", "--measurements", mfile,
                             "--sampler", "random", "--trials", "6", "--out-dir", tmp_path / "cli")
    assert code == 130 and out == "" and err.count("\n") == 1
    assert err.startswith("stitchnas: interrupted: the trials finished so far are kept in study ")


def test_sigint_watch_sees_ctrl_c_only_inside_and_restores_the_handler():
    with sigint_watch() as seen:
        assert seen == [False]
    with pytest.raises(KeyboardInterrupt):
        with sigint_watch() as seen:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(10)  # pragma: no cover - the interrupt is raised before this returns
    assert seen == [True] and signal.getsignal(signal.SIGINT) is signal.default_int_handler
