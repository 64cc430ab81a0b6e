"""How well a predictor ranks stitches it has not seen: repeated random splits of a measured table.

Each repeat measures a random ``train_fraction`` of the rows (seeded), fits the predictor on
them (anchor accuracies, a feature, are known only when an anchor is among them) and scores its
predictions on the rest: Kendall's tau-b, Spearman's rho, mean absolute error (points of
top-1) and precision of the top 10% (the share of the truly best 10% that the predicted best
10% contains). The FLOPs baseline is scored on the same splits, side by side.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from .._util import counted
from ..errors import StitchnasError
from ._features import make_stitches
from ..measure import Measurement
from ._fit import fit_checked, fit_problem, predict_checked, predictor_label
from ..space import SearchSpace, load_space

__all__ = ["RankingScores", "CVReport", "ranking_scores", "cross_validate", "split"]


@dataclass(frozen=True)
class RankingScores:
    """Mean over repeats (and the standard deviation of tau across repeats)."""

    kendall_tau: float
    kendall_tau_std: float
    spearman_rho: float
    mae: float
    precision_top10: float


@dataclass(frozen=True)
class CVReport:
    space: str
    predictor: str
    rows: int
    train_size: int
    repeats: int
    seed: int
    scores: RankingScores
    baseline: RankingScores
    fit_seconds: float
    #: splits in which the predictor gave every scored stitch the same top-1 (it ranked nothing)
    constant_splits: int = 0
    #: the predictor's tau minus the FLOPs baseline's, split by split: their mean and its standard
    #: error (the splits' standard deviation over sqrt(repeats)); a gain within about two standard
    #: errors of 0 does not tell the two apart on these rows
    tau_gain: float = 0.0
    tau_gain_se: float = 0.0

    def gain_line(self) -> str:
        """``tau gain over FLOPs +0.150 ± 0.020 (paired standard error over 20 splits): ...``"""
        if self.tau_gain_se > 0 and abs(self.tau_gain) > 2 * self.tau_gain_se:
            verdict = "above FLOPs" if self.tau_gain > 0 else "below FLOPs"
            verdict += " by more than two standard errors"
        elif self.tau_gain_se > 0 or self.tau_gain:
            verdict = "within two standard errors of FLOPs: these splits do not tell the two apart"
        else:
            verdict = "the same ranking as FLOPs in every split"
        return (f"tau gain over FLOPs {self.tau_gain:+.3f} ± {self.tau_gain_se:.3f} (paired standard "
                f"error over {counted(self.repeats, 'split')}): {verdict}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def constant_note(self) -> str | None:
        """One line when the predictor predicted a single value in some splits, else None: its
        tau there is 0 by definition, which the mean alone does not say."""
        if not self.constant_splits:
            return None
        return (f"{self.predictor} predicted one top-1 for every stitch in {self.constant_splits} of "
                f"{self.repeats} splits (fitted on {self.train_size} rows): a constant ranks nothing "
                "and scores tau 0 there; a model for so few rows may need other settings (e.g. "
                "smaller leaves or less regularisation)")


def ranking_scores(pred: Sequence[float], true: Sequence[float]) -> dict[str, float]:
    """tau, rho, MAE and top-10% precision of one prediction against the truth."""
    from scipy.stats import kendalltau, spearmanr

    pred = np.asarray(pred, dtype=float)
    true = np.asarray(true, dtype=float)
    k = max(1, int(round(0.1 * len(true))))
    top_pred = set(np.argsort(-pred, kind="stable")[:k])
    top_true = set(np.argsort(-true, kind="stable")[:k])
    if np.ptp(pred) == 0 or np.ptp(true) == 0:  # a constant ranks nothing: 0, without SciPy's warning
        tau = rho = 0.0
    else:
        tau = kendalltau(pred, true).statistic
        rho = spearmanr(pred, true).statistic
    return {
        "kendall_tau": float(tau) if np.isfinite(tau) else 0.0,
        "spearman_rho": float(rho) if np.isfinite(rho) else 0.0,
        "mae": float(np.mean(np.abs(pred - true))),
        "precision_top10": len(top_pred & top_true) / k,
    }


def split(n: int, train_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of ``n`` rows into ``train_size`` measured and the rest."""
    idx = np.random.default_rng(seed).permutation(n)
    return idx[:train_size], idx[train_size:]


def _mean(scores: list[dict[str, float]]) -> RankingScores:
    taus = [s["kendall_tau"] for s in scores]
    return RankingScores(
        kendall_tau=float(np.mean(taus)), kendall_tau_std=float(np.std(taus)),
        spearman_rho=float(np.mean([s["spearman_rho"] for s in scores])),
        mae=float(np.mean([s["mae"] for s in scores])),
        precision_top10=float(np.mean([s["precision_top10"] for s in scores])),
    )


def cross_validate(space: SearchSpace | str, rows: Sequence[Measurement], predictor: Any = None, *,
                   train_fraction: float = 0.2, repeats: int = 20, seed: int = 0,
                   progress: bool | None = None, signals=None) -> CVReport:
    """Score ``predictor`` (a name, dotted path, class or estimator) and the FLOPs baseline on
    ``repeats`` random splits; split ``r`` uses seed ``seed + r``. ``signals``: proxy scores
    by id, which the predictor sees for every stitch (measured or not). ``space``: a
    :class:`SearchSpace`, a bundled name or a YAML path."""
    from tqdm.auto import tqdm

    space = load_space(space)
    rows = list(rows)
    if not 0 < train_fraction < 1:
        raise StitchnasError(f"--train-fraction must be between 0 and 1 (exclusive), got {train_fraction}")
    n = len(rows)
    train_size = int(round(train_fraction * n))
    if train_size < 2 or n - train_size < 2:
        raise StitchnasError(
            f"{n} measured rows with train fraction {train_fraction} leave {train_size} to fit and "
            f"{n - train_size} to score: measure more stitches or change --train-fraction"
        )
    name = predictor_label(predictor)
    cands = [space.candidate(m.id) for m in rows]
    y = np.array([m.acc1 for m in rows])
    ours, base = [], []
    fit_s, constant = 0.0, 0
    from ..progress import show_bars

    show = show_bars(progress)
    for r in tqdm(range(repeats), desc=f"cross-validating {name}", disable=not show):
        tr, te = split(n, train_size, seed + r)
        stitches = make_stitches(space, [rows[i] for i in tr], candidates=cands, signals=signals)
        xtr, xte = [stitches[i] for i in tr], [stitches[i] for i in te]
        t0 = time.perf_counter()
        model = fit_checked(predictor, xtr, y[tr], random_state=seed + r)
        pred, _ = predict_checked(predictor, model, xte, y[tr], repeat=r == 0, std=r == 0)
        if r == 0 and (problem := fit_problem(predict_checked(predictor, model, xtr, y[tr], repeat=False,
                                                              std=False)[0], y[tr])):
            raise StitchnasError(f"predictor {name!r}: {problem}")
        ours.append(ranking_scores(pred, y[te]))
        constant += int(np.ptp(np.asarray(pred, dtype=float)) == 0)
        fit_s += time.perf_counter() - t0
        baseline = fit_checked("flops", xtr, y[tr])
        flops_pred, _ = predict_checked("flops", baseline, xte, y[tr], repeat=False, std=False)
        base.append(ranking_scores(flops_pred, y[te]))
    gains = np.array([a["kendall_tau"] - b["kendall_tau"] for a, b in zip(ours, base)])
    gain_se = float(np.std(gains, ddof=1) / np.sqrt(repeats)) if repeats > 1 else 0.0
    return CVReport(space=space.name, predictor=str(name), rows=n, train_size=train_size,
                    repeats=repeats, seed=seed, scores=_mean(ours), baseline=_mean(base),
                    fit_seconds=round(fit_s / repeats, 3), constant_splits=constant,
                    tau_gain=float(gains.mean()), tau_gain_se=gain_se)
