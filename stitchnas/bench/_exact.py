"""``stitchnas bench exact``: how the exact search's time and memory grow with the space.

Generated two-way spaces of tiny ViT anchors (``pairs: all``, more anchors for more candidates)
get synthetic accuracies and FLOPs (seeded), so only the search itself is timed: every candidate
evaluated (the vectorised sweep, :func:`stitchnas.optimize.exact_front`), the front's trials, and
the front recorded in a fresh SQLite storage (the default storage). Building the space and the
costs, which every sampler needs alike, is reported apart. ``bench record`` times the recording
alone, one transaction against Optuna's trial by trial.
"""

from __future__ import annotations

import os
import resource
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..costs import TargetCost, cpu_name, load_target
from ..fileio import write_json
from ..optimize import AccuracyTable, Problem, SearchConfig, evaluate_all, exact_front, search_problem
from ..progress import quiet_optuna
from ._generated import vit_space

__all__ = ["bench_exact", "GENERATED_SPACES"]

#: (anchors, depth) of the generated spaces: 729, 3,964, 20,705 and 100,472 candidates.
GENERATED_SPACES = ((3, 12), (4, 16), (5, 24), (8, 24))


def _space(folder: Path, anchors: int, depth: int):
    return vit_space(folder, f"gen_{anchors}x{depth}", [(16 * (i + 1), depth) for i in range(anchors)],
                     {"type": "two_way", "pairs": "all", "max_stitches": 2})


def _problem(space, seed: int) -> Problem:
    rng = np.random.default_rng(seed)
    cands = space.candidates
    n = len(cands)
    flops = rng.integers(10**6, 10**9, n)
    acc = np.round(60 + 30 * np.log(flops / 1e6) / np.log(1e3) + rng.normal(0, 1.5, n), 2)
    costs = [TargetCost(id=c.id, route=c.route, cost=float(f), flops=int(f), params=int(f // 100),
                        latency_ms=None, memory_mb=None) for c, f in zip(cands, flops)]
    table = AccuracyTable(ids=tuple(c.id for c in cands), acc1=acc, std=(None,) * n,
                          source=("measured",) * n, predictor=None, measurements=None,
                          measured_ids=n, key=f"synthetic-{seed}")
    values = np.stack([acc, flops.astype(float)], axis=1)
    return Problem(space=space, target=load_target("flops_budget"), objectives=("acc1", "flops"),
                   acc=table, costs=costs, values=values, feasible=np.ones(n, dtype=bool),
                   constraints=[[] for _ in range(n)], key=f"synthetic{seed:04d}")


@quiet_optuna()  # Optuna's verbosity restored after
def bench_exact(shapes: Sequence[tuple[int, int]] = GENERATED_SPACES, repeats: int = 3,
                seed: int = 0, out_dir: str | Path | None = None) -> dict[str, Any]:
    """Median of ``repeats`` exact searches per generated space (every candidate evaluated, then
    the front recorded in a fresh SQLite file), with the peak Python memory of one evaluation."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for anchors, depth in shapes:
            t0 = time.perf_counter()
            space = _space(folder, anchors, depth)
            problem = _problem(space, seed)
            setup_s = time.perf_counter() - t0
            evaluate_s, total_s = [], []
            for r in range(repeats):
                evaluate_s.append(exact_front(problem)[2])
                config = SearchConfig(sampler="exact", storage=str(folder / f"s{anchors}x{depth}-{r}.db"),
                                      save=False)
                t = time.perf_counter()
                result = search_problem(problem, config, progress=False)
                total_s.append(time.perf_counter() - t)
            tracemalloc.start()
            exact_front(problem)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            rows.append({"space": space.name, "candidates": len(space), "front": len(result.front),
                         "evaluate_s": round(statistics.median(evaluate_s), 3),
                         "search_s": round(statistics.median(total_s), 3),
                         "peak_python_mb": round(peak / 2**20, 1), "setup_s": round(setup_s, 1)})
    report = {"repeats": repeats, "seed": seed, "storage": "sqlite (a fresh file per run)", "rows": rows,
              "cpu": cpu_name(),
              "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if out_dir is not None:
        write_json(Path(out_dir) / "exact_search.json", report)
    return report


#: Trials recorded by ``stitchnas bench record``: a front of priors of a 10^3 space, 5,000 NSGA-II trials.
RECORD_COUNTS = (1000, 5000)


@quiet_optuna()  # Optuna's verbosity restored after
def bench_record(counts: Sequence[int] = RECORD_COUNTS, repeats: int = 3, seed: int = 0,
                 out_dir: str | Path | None = None, shape: tuple[int, int] = (5, 24),
                 postgres: str | None = None) -> dict[str, Any]:
    """Median seconds to record ``n`` finished trials (the first ``n`` candidates of a generated
    space, by default the 20,705 of ``shape`` (5, 24), as an exact search records its front) in a
    fresh study, each way side by side in one run: a SQLite file in one transaction
    (:func:`stitchnas.storage.record_trials`, the default) and trial by trial (Optuna's
    ``study.add_trials``), a journal file, and with ``postgres`` (a database URL; its studies are
    deleted after) PostgreSQL both ways."""
    import optuna
    import sqlalchemy

    from ..storage import close_storage, open_storage, record_trials

    def read(opened, name: str) -> list:
        study = optuna.load_study(study_name=name, storage=opened.storage)
        return [(t.number, t.values, t.params, t.user_attrs) for t in study.trials]

    ways = ["sqlite_one_transaction", "sqlite_trial_by_trial", "journal"]
    ways += ["postgresql_one_transaction", "postgresql_trial_by_trial"] if postgres else []
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        space = _space(folder, *shape)
        trials = evaluate_all(_problem(space, seed))[0].get_trials(deepcopy=False)
        for n in counts:
            batch = trials[:n]
            seconds: dict[str, list[float]] = {way: [] for way in ways}
            same = True
            for r in range(repeats):
                stored = {}
                for way in ways:
                    name = f"stitchnas-bench-record-{way}-{n}-{r}-{os.getpid()}"
                    spec = postgres if way.startswith("postgresql") else str(
                        folder / f"{name}{'.journal' if way == 'journal' else '.db'}")
                    opened = open_storage(spec)
                    study = optuna.create_study(storage=opened.storage, study_name=name,
                                                directions=["maximize", "minimize"])
                    try:
                        t = time.perf_counter()
                        if way.endswith("one_transaction"):
                            record_trials(study, batch, opened.storage)
                        else:
                            study.add_trials(batch)
                        seconds[way].append(time.perf_counter() - t)
                        stored[way] = read(opened, name)
                    finally:
                        if postgres and way.startswith("postgresql"):
                            optuna.delete_study(study_name=name, storage=opened.storage)
                        close_storage(opened)
                for db in ("sqlite", "postgresql")[: 1 + bool(postgres)]:
                    same = same and stored[f"{db}_one_transaction"] == stored[f"{db}_trial_by_trial"]
            median = {way: round(statistics.median(s), 3) for way, s in seconds.items()}
            rows.append({"trials": len(batch), **{f"{way}_s": s for way, s in median.items()},
                         "speedup": round(median["sqlite_trial_by_trial"] / median["sqlite_one_transaction"], 1),
                         **({"postgresql_speedup": round(median["postgresql_trial_by_trial"]
                                                         / median["postgresql_one_transaction"], 1)}
                            if postgres else {}),
                         "same_trials_read_back": same})
    report = {"repeats": repeats, "seed": seed, "space": space.name, "candidates": len(trials), "rows": rows,
              "machine": {"cpu": cpu_name(), "optuna": optuna.__version__, "sqlalchemy": sqlalchemy.__version__,
                          "sqlite": sqlite3.sqlite_version},
              "postgresql": _server_version(postgres) if postgres else None}
    if out_dir is not None:
        write_json(Path(out_dir) / "record_trials.json", report)
    return report


def _server_version(url: str) -> str | None:
    """The PostgreSQL server's version string (the password never reaches the report)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            return str(conn.execute(sqlalchemy.text("SHOW server_version")).scalar())
    except Exception:  # noqa: BLE001 - the version is a courtesy
        return None
    finally:
        engine.dispose()
