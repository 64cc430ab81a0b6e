"""Beyond the exact limit (a front of more members than it) the default search is NSGA-II in the
``path`` encoding, run in memory and recorded in the storage at the end: its front is the front of
what it evaluated, says it may be incomplete, resumes from the stored trials, and a seed repeats
it. A large space whose front is within the limit is searched exactly.

The limit is lowered for these tests (a module constant, so that a 297-candidate space counts as
large); the space, its FLOPs and the Optuna studies are real, the accuracies synthetic."""

import numpy as np
import optuna
import pytest
from scipy.stats import kendalltau

import stitchnas.optimize._exact as exact_mod
import stitchnas.optimize._loop as loop_mod
from stitchnas.bench._large import _problem, _write_space, synthetic_accuracy
from stitchnas.optimize import LARGE_TRIALS, SearchConfig, large_trials, make_encoding, search_problem

LIMIT = 100


@pytest.fixture(scope="module")
def problem(tmp_path_factory):
    """Three tiny ViTs of depth 8, two-way with ``pairs: all``: 297 candidates, real FLOPs."""
    folder = tmp_path_factory.mktemp("large")
    space = _write_space(folder, "gen3x8", ((16, 8, 2), (32, 8, 2), (48, 8, 2)), {})
    return _problem(space, seed=0)


@pytest.fixture(autouse=True)
def small_limit(monkeypatch):
    monkeypatch.setattr(exact_mod, "EXACT_LIMIT", LIMIT)
    for mod in (exact_mod, loop_mod):
        monkeypatch.setattr(mod, "LARGE_SPACE", LIMIT)


def brute_front(problem, ids):
    """Feasible ids no other of ``ids`` dominates (acc1 up, flops down), the plain O(n^2) way."""
    v = {i: problem.values[problem.index[i]] for i in ids if problem.feasible[problem.index[i]]}
    return sorted(i for i in v if not any(
        v[j][0] >= v[i][0] and v[j][1] <= v[i][1] and (v[j][0] > v[i][0] or v[j][1] < v[i][1]) for j in v))


def test_a_large_space_with_a_small_front_is_searched_exactly_by_default(problem, tmp_path):
    """Past EXACT_LIMIT candidates, the default sweeps them all first: a front within the limit
    is returned whole (exact, every candidate evaluated, no note)."""
    n, truth = len(problem.costs), brute_front(problem, [c.id for c in problem.costs])
    assert len(truth) <= LIMIT < n
    r = search_problem(problem, SearchConfig(storage=str(tmp_path / "s.db"), save=False), progress=False)
    assert (r.front.study["sampler"], r.distinct_candidates, r.front.coverage) == ("exact", n, None)
    assert sorted(m.id for m in r.front.members) == truth
    assert not any("--sampler exact" in note for note in r.notes)
    assert r.seconds >= problem.full_front_s > 0  # the sweep that chose exact is search time too


def test_the_default_beyond_the_limit_returns_the_front_of_what_it_evaluated(problem, tmp_path, monkeypatch):
    """A front larger than EXACT_LIMIT (lowered below this one's size): NSGA-II, noted."""
    n, front = len(problem.costs), len(brute_front(problem, [c.id for c in problem.costs]))
    monkeypatch.setattr(exact_mod, "EXACT_LIMIT", front - 1)
    r = search_problem(problem, SearchConfig(storage=str(tmp_path / "s.db"), save=False), progress=False)
    study = r.front.study
    assert (study["sampler"], study["encoding"]) == ("nsga2", "path")
    assert r.n_trials_done == large_trials(n) == min(LARGE_TRIALS, n)
    assert r.distinct_candidates == len(set(r.trial_ids)) < n
    assert r.front.coverage == f"evaluated {r.distinct_candidates} of {n} candidates; the front may be incomplete"
    assert sorted(m.id for m in r.front.members) == brute_front(problem, set(r.trial_ids))
    # recorded in the storage: every trial, with the candidate id, and the metadata
    stored = optuna.load_study(study_name=r.study_name, storage=f"sqlite:///{tmp_path / 's.db'}")
    assert [t.user_attrs["id"] for t in sorted(stored.trials, key=lambda t: t.number)] == list(r.trial_ids)
    assert stored.user_attrs["stitchnas"]["encoding"] == "path"
    # the note says how to get the whole front; --sampler exact does, and a budget drops the note
    assert any(note.startswith(f"the exact front has {front} members, more than the {front - 1} the default "
                               f"records: the search was NSGA-II over some of the {n} candidates; --sampler exact")
               for note in r.notes)
    exact = search_problem(problem, SearchConfig(sampler="exact", storage="memory", save=False), progress=False)
    assert sorted(m.id for m in exact.front.members) == brute_front(problem, [c.id for c in problem.costs])
    budget = search_problem(problem, SearchConfig(storage="memory", save=False, n_trials=20), progress=False)
    assert not any("--sampler exact" in n for n in budget.notes)


def test_the_same_command_finds_its_study_and_more_trials_extend_it(problem, tmp_path):
    config = SearchConfig(storage=str(tmp_path / "s.db"), save=False, n_trials=30, seed=2)
    first = search_problem(problem, config, progress=False)
    again = search_problem(problem, config, progress=False)
    assert again.trial_ids == first.trial_ids and again.seconds == 0.0  # nothing searched again
    more = search_problem(problem, SearchConfig(storage=str(tmp_path / "s.db"), save=False, n_trials=45,
                                                seed=2, study_name=first.study_name), progress=False)
    assert more.n_trials_done == 45 and more.trial_ids[:30] == first.trial_ids


def test_a_seed_repeats_the_search(problem):
    def run(seed):
        return search_problem(problem, SearchConfig(storage="memory", save=False, n_trials=40, seed=seed),
                              progress=False).trial_ids

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_an_explicit_sampler_keeps_the_trial_by_trial_search(problem):
    r = search_problem(problem, SearchConfig(sampler="random", storage="memory", save=False, n_trials=20),
                       progress=False)
    assert (r.front.study["sampler"], r.front.study["encoding"]) == ("random", "path")
    assert r.n_trials_done == 20


def test_the_path_encoding_names_every_candidate_and_cuts_unknown_routes(problem):
    enc = make_encoding(problem.space, "path")
    for c in problem.space.candidates:
        assert enc.suggest(optuna.trial.FixedTrial(enc.params(c.id))) == c.id
    assert enc.shape_of(["1", "-", "2"]) == "1"          # '-' ends the route
    assert enc.shape_of(["0", "0", "2"]) == "0"          # a repeat ends it too
    assert enc.shape_of(["0", "2", "1"]) == "0>2>1"


def test_the_synthetic_accuracy_is_seeded_and_not_a_function_of_flops(problem):
    acc, flops = problem.values[:, 0], problem.values[:, 1]
    anchor_flops = [flops[problem.index[a]] for a in range(3)]  # ids 0..2: the anchors alone
    assert all(problem.costs[problem.index[a]].route.num_stitches == 0 for a in range(3))
    assert np.array_equal(acc, synthetic_accuracy(problem.space, anchor_flops, seed=0))
    assert not np.array_equal(acc, synthetic_accuracy(problem.space, anchor_flops, seed=1))
    tau = kendalltau(acc, flops).statistic
    assert 0.1 < tau < 0.9  # rises with FLOPs, but the route decides much of it


def test_between_large_and_the_exact_limit_the_default_is_exact_and_a_budget_searches_in_memory(
        problem, tmp_path, monkeypatch):
    """Past LARGE_SPACE but within EXACT_LIMIT: no budget is the exact front; a --trials budget is
    NSGA-II in the path encoding, in memory (recorded at the end), as beyond the limit."""
    n = len(problem.costs)
    monkeypatch.setattr(exact_mod, "EXACT_LIMIT", n)
    exact = search_problem(problem, SearchConfig(storage=str(tmp_path / "s.db"), save=False), progress=False)
    assert exact.front.study["sampler"] == "exact" and exact.distinct_candidates == n
    budget = search_problem(problem, SearchConfig(storage=str(tmp_path / "s.db"), save=False, n_trials=40),
                            progress=False)
    assert (budget.front.study["sampler"], budget.front.study["encoding"]) == ("nsga2", "path")
    assert budget.n_trials_done == 40
    stored = optuna.load_study(study_name=budget.study_name, storage=f"sqlite:///{tmp_path / 's.db'}")
    assert len(stored.trials) == 40


def test_slow_recording_is_noted_with_the_faster_storage(problem, tmp_path, monkeypatch):
    """Recording one by one (a journal file) past SLOW_RECORD_S adds a note naming the time and
    the storage that takes trials in one transaction; a quick one, or SQLite's one transaction
    however long, adds none."""
    quick = search_problem(problem, SearchConfig(storage=str(tmp_path / "q.journal"), save=False, n_trials=30),
                           progress=False)
    assert not any("recording" in n for n in quick.notes)
    monkeypatch.setattr(loop_mod, "SLOW_RECORD_S", -1.0)
    slow = search_problem(problem, SearchConfig(storage=str(tmp_path / "s.journal"), save=False, n_trials=30),
                          progress=False)
    note = next(n for n in slow.notes if n.startswith("recording 30 trials in "))
    assert "--storage PATH.db" in note and "took" in note
    bulk = search_problem(problem, SearchConfig(storage=str(tmp_path / "t.db"), save=False, n_trials=30),
                          progress=False)
    assert not any("recording" in n for n in bulk.notes)


def test_sqlite_studies_are_recorded_in_one_transaction_and_resume(problem, tmp_path, monkeypatch):
    """The in-memory search's trials and the exact search's front reach a SQLite file without
    Optuna's trial-by-trial path (refused here), and the bulk-recorded study resumes."""
    def trial_by_trial(*args, **kwargs):
        raise AssertionError("recorded trial by trial")

    monkeypatch.setattr(optuna.storages.RDBStorage, "create_new_trial", trial_by_trial)
    monkeypatch.setattr(optuna.storages.RDBStorage, "_create_new_trial", trial_by_trial)
    db = tmp_path / "s.db"
    first = search_problem(problem, SearchConfig(storage=str(db), save=False, n_trials=30), progress=False)
    more = search_problem(problem, SearchConfig(storage=str(db), save=False, n_trials=50), progress=False)
    assert more.n_trials_done == 50 and more.trial_ids[:30] == first.trial_ids
    stored = optuna.load_study(study_name=more.study_name, storage=f"sqlite:///{db}")
    assert [t.number for t in stored.trials] == list(range(50))
    assert [t.user_attrs["id"] for t in stored.trials] == list(more.trial_ids)
    exact = search_problem(problem, SearchConfig(sampler="exact", storage=str(db), save=False), progress=False)
    kept = optuna.load_study(study_name=exact.study_name, storage=f"sqlite:///{db}")
    assert sorted(t.user_attrs["id"] for t in kept.trials) == sorted(m.id for m in exact.front.members)


def test_ctrl_c_in_the_in_memory_search_says_it_records_at_the_end(problem, tmp_path, monkeypatch):
    """The in-memory search records its trials only when it ends: Ctrl-C (here in its 6th trial)
    keeps none of this run's, says so, and the same search then runs whole."""
    from stitchnas.optimize import SearchInterrupted

    real, calls = loop_mod.make_encoding, [0]

    class Interrupted:
        def __init__(self, encoder):
            self.encoder = encoder

        def suggest(self, trial):
            calls[0] += 1
            if calls[0] == 6:
                raise KeyboardInterrupt
            return self.encoder.suggest(trial)

    config = SearchConfig(storage=str(tmp_path / "s.db"), save=False, n_trials=20, seed=1, study_name="big")
    monkeypatch.setattr(loop_mod, "make_encoding", lambda *a, **k: Interrupted(real(*a, **k)))
    said = (r"^the search ran in memory, recording its trials in study 'big' of .*s\.db only at the end: "
            r"the same command starts again from what the study holds$")
    with pytest.raises(SearchInterrupted, match=said):
        search_problem(problem, config, progress=False)
    assert "big" not in [s.study_name for s in optuna.get_all_study_summaries(f"sqlite:///{tmp_path / 's.db'}")]
    monkeypatch.setattr(loop_mod, "make_encoding", real)
    assert search_problem(problem, config, progress=False).n_trials_done == 20
