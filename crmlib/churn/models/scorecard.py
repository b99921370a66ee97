"""Holdout scorecard of churn scorers: ranking, calibration and lift with paired bootstrap CIs.

One row per customer of the holdout cutoff, a 0/1 label (1 = churned) and, per scorer, a
score on the **same** customers (a probability of churn, or a rank such as
:func:`crmlib.churn.models.baselines.recency_score`). Metrics:

- ``roc_auc``: P(a random churner scores above a random stayer), ties counted one half;
  computed from ranks, AUC = (sum of the churners' ranks - n1 (n1 + 1) / 2) / (n1 n0) with
  ties averaged (the Mann-Whitney statistic), equal to ``sklearn.metrics.roc_auc_score``;
- ``pr_auc``: average precision, ``sklearn.metrics.average_precision_score``: the precision
  at each distinct score threshold weighted by the recall it adds;
- ``brier``: mean squared error of the probability; ``log_loss``: mean negative
  log-likelihood, probabilities clipped to [eps, 1 - eps] (float64 eps) as scikit-learn does.
  Both are NaN for a scorer with values outside [0, 1] (a rank, not a probability);
- ``top_decile_capture``: share of all churners among the ``top_share`` (default 10%) of
  customers with the highest scores; ``top_decile_lift``: churn share in that group /
  overall churn share (= capture / top_share). Customers tied at the boundary, and a
  fractional boundary customer, are counted pro rata: the expected value under a random
  order of ties, so the result never depends on row order.

Confidence intervals are 95% percentile bootstrap intervals over customers; every draw
resamples the same customers for every scorer (paired), so the differences between scorers
("<first> - <other>" rows for roc_auc and brier) get their own interval, which is much
narrower than the two separate intervals suggest. Each draw is a vector of multinomial
counts; every metric is a weighted statistic of the counts over the scorer's distinct score
values, so a draw costs a few passes over the data and no sort. Beyond ``max_rows``
customers the bootstrap runs on a seeded subsample of ``max_rows`` customers and its
deviations from the subsample's value are scaled by sqrt(max_rows / n) around the full-data
value (an m-out-of-n bootstrap for root-n statistics; stated in ``attrs``).

References
----------
.. [1] Hanley, J. A. & McNeil, B. J. (1982). The meaning and use of the area under a receiver
   operating characteristic (ROC) curve. Radiology 143(1), 29-36.
.. [2] Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman &
   Hall (percentile intervals, ch. 13).
.. [3] Bickel, P. J., Goetze, F. & van Zwet, W. R. (1997). Resampling fewer than n
   observations. Statistica Sinica 7, 1-31 (m-out-of-n bootstrap).
.. [4] Niculescu-Mizil, A. & Caruana, R. (2005). Predicting good probabilities with
   supervised learning. ICML (reliability diagrams).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from crmlib.config import DEFAULTS

__all__ = [
    "SCORECARD_METRICS",
    "SCORECARD_COLUMNS",
    "CALIBRATION_COLUMNS",
    "GAINS_COLUMNS",
    "scorecard",
    "calibration_table",
    "gains_table",
    "HoldoutScores",
]

log = logging.getLogger(__name__)

#: Metrics of :func:`scorecard`, in row order.
SCORECARD_METRICS: tuple[str, ...] = (
    "roc_auc", "pr_auc", "brier", "log_loss", "top_decile_lift", "top_decile_capture",
)  # fmt: skip

#: Columns of :func:`scorecard` (one row per scorer and metric).
SCORECARD_COLUMNS: tuple[str, ...] = (
    "scorer", "metric", "value", "ci_low", "ci_high", "n", "n_churned",
)  # fmt: skip

#: Columns of :func:`calibration_table` (one row per scorer and non-empty bin).
CALIBRATION_COLUMNS: tuple[str, ...] = ("scorer", "bin", "mean_predicted", "observed_rate", "n")

#: Columns of :func:`gains_table` (one row per scorer and decile).
GAINS_COLUMNS: tuple[str, ...] = ("scorer", "decile", "share_targeted", "captured_share", "lift")

#: Metrics whose paired differences (first scorer - each other) get rows.
_DIFFERENCE_METRICS = ("roc_auc", "brier")

_CONFIDENCE = 0.95

_EPS = float(np.finfo(np.float64).eps)


# -- inputs ---------------------------------------------------------------------------------------
def _check_labels(labels: ArrayLike) -> np.ndarray:
    """0/1 float64 labels with both classes, or a ValueError saying what is wrong."""
    values = pd.Series(np.asarray(labels).ravel())
    missing = int(values.isna().sum())
    if missing:
        raise ValueError(f"labels: {missing} missing values; expected 0/1 (1 = churned)")
    try:
        numbers = values.to_numpy(dtype="float64")
    except (ValueError, TypeError):
        raise ValueError(
            f"labels: values of dtype {values.dtype} are not 0/1; expected 0/1 (1 = churned)"
        ) from None
    if not np.isin(numbers, (0.0, 1.0)).all():
        found = sorted({float(v) for v in np.unique(numbers)} - {0.0, 1.0})[:5]
        raise ValueError(f"labels: values {found} are not 0/1; expected 0/1 (1 = churned)")
    churners = int(numbers.sum())
    if churners in (0, numbers.size):
        what = "churners" if churners == numbers.size else "stayers"
        raise ValueError(
            f"labels: all {numbers.size} customers are {what} (a single class); ranking and "
            "calibration metrics need both churners and stayers in the holdout"
        )
    return numbers


def _check_scores(scores: Mapping[str, ArrayLike], n: int) -> dict[str, np.ndarray]:
    """Finite float64 score arrays of length ``n``, by scorer name."""
    if not isinstance(scores, Mapping) or not scores:
        raise ValueError("scores: expected a non-empty mapping of scorer name -> array of scores")
    checked: dict[str, np.ndarray] = {}
    for name, raw in scores.items():
        try:
            values = np.asarray(raw, dtype="float64").ravel()
        except (ValueError, TypeError):
            raise ValueError(
                f"scores[{name!r}]: not numeric; expected P(churn) per customer"
            ) from None
        if values.size != n:
            raise ValueError(
                f"scores[{name!r}]: {values.size} values for {n} labels; every scorer must "
                "score the same customers as the labels, in the same order"
            )
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            raise ValueError(
                f"scores[{name!r}]: {bad} missing or infinite values; expected a score for "
                "every customer (score or drop those customers for every scorer)"
            )
        checked[str(name)] = values
    return checked


def _is_probability(values: np.ndarray) -> bool:
    return bool(values.size and values.min() >= 0.0 and values.max() <= 1.0)


# -- weighted metrics over distinct score values --------------------------------------------------
@dataclass(frozen=True)
class _Ranked:
    """One scorer's customers in descending score order, grouped by distinct score value."""

    order: np.ndarray  # (n,) customers by descending score (ties adjacent)
    y_sorted: np.ndarray  # (n,) labels in that order
    starts: np.ndarray | None  # first position of each distinct score; None without ties
    is_probability: bool
    squared_error: np.ndarray  # (n,) (score - label)^2, customer order
    log_loss: np.ndarray  # (n,) -log likelihood with clipped probabilities, customer order

    @classmethod
    def of(cls, score: np.ndarray, y: np.ndarray) -> _Ranked:
        order = np.argsort(-score, kind="stable")
        ordered = score[order]
        new_value = np.flatnonzero(np.diff(ordered) != 0) + 1
        starts = None if new_value.size == score.size - 1 else np.r_[0, new_value]
        clipped = np.clip(score, _EPS, 1.0 - _EPS)
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = -(y * np.log(clipped) + (1.0 - y) * np.log1p(-clipped))
        return cls(
            order=order, y_sorted=y[order], starts=starts, is_probability=_is_probability(score),
            squared_error=(score - y) ** 2, log_loss=loss,
        )  # fmt: skip

    def group_weights(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Churner and stayer weight of each distinct score, highest score first."""
        weight = counts[self.order]
        pos = weight * self.y_sorted
        neg = weight - pos
        if self.starts is not None:
            pos, neg = np.add.reduceat(pos, self.starts), np.add.reduceat(neg, self.starts)
        return pos, neg


def _captured(pos: np.ndarray, neg: np.ndarray, caught: np.ndarray, flagged: np.ndarray,
              shares: np.ndarray) -> np.ndarray:  # fmt: skip
    """Churner weight among the top ``shares`` of customers (one value per share).

    ``caught`` and ``flagged`` are the cumulative churner and total weights of the groups
    (highest score first). Groups are taken whole while they fit; the group straddling the
    boundary counts pro rata (ties and a fractional boundary customer shared evenly).
    """
    wanted = shares * flagged[-1]
    at = np.minimum(np.searchsorted(flagged, wanted, side="left"), flagged.size - 1)
    before = np.where(at > 0, flagged[at - 1], 0.0)
    caught_before = np.where(at > 0, caught[at - 1], 0.0)
    size = pos[at] + neg[at]
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(size > 0, np.clip((wanted - before) / size, 0.0, 1.0), 0.0)
    return np.asarray(caught_before + fraction * pos[at])


def _dot(left: np.ndarray, right: np.ndarray) -> float:
    """Inner product without BLAS (a BLAS call spawns threads: slow for one vector pair)."""
    return float(np.einsum("i,i->", left, right))


def _metrics(ranked: _Ranked, counts: np.ndarray, top_share: float) -> np.ndarray:
    """The :data:`SCORECARD_METRICS` with customers weighted by ``counts`` (n,)."""
    pos, neg = ranked.group_weights(counts)
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    total = n_pos + n_neg
    if n_pos == 0 or n_neg == 0:
        return np.full(len(SCORECARD_METRICS), np.nan)
    cum_neg = np.cumsum(neg)
    # churners above stayers: sum_g pos_g (stayers below g + half the stayers tied with g)
    auc = (n_pos * n_neg - _dot(pos, cum_neg) + 0.5 * _dot(pos, neg)) / (n_pos * n_neg)
    cum_pos = np.cumsum(pos)
    flagged = cum_pos + cum_neg
    # flagged is 0 only before the first customer, where cum_pos is 0 too (weights are counts)
    average_precision = _dot(pos, cum_pos / np.maximum(flagged, 1.0)) / n_pos
    share = np.array([top_share])
    capture = float(_captured(pos, neg, cum_pos, flagged, share)[0]) / n_pos
    if ranked.is_probability:
        brier = _dot(counts, ranked.squared_error) / total
        log_loss = _dot(counts, ranked.log_loss) / total
    else:
        brier = log_loss = float("nan")
    return np.array([auc, average_precision, brier, log_loss, capture / top_share, capture])


def _bootstrap(
    y: np.ndarray,
    scores: dict[str, np.ndarray],
    full: dict[str, tuple[_Ranked, np.ndarray]],
    *,
    n_boot: int,
    seed: int,
    top_share: float,
    max_rows: int,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float, int]:
    """Draws (n_boot, metrics) and their centre (metrics,) per scorer, the scale, the rows used.

    ``full`` holds each scorer's ranking and metrics on all customers (the centre when the
    bootstrap uses them all).
    """
    rng = np.random.default_rng(seed)
    n = y.size
    rows = min(n, max_rows)
    if rows < n:
        keep = np.sort(rng.choice(n, size=rows, replace=False))
        y_boot = y[keep]
        if y_boot.min() == y_boot.max():
            raise ValueError(
                f"max_rows={max_rows}: the bootstrap subsample of {rows} customers holds a "
                "single class; raise max_rows"
            )
        ranked = {name: _Ranked.of(values[keep], y_boot) for name, values in scores.items()}
        ones = np.ones(rows)
        centre = {name: _metrics(item, ones, top_share) for name, item in ranked.items()}
    else:
        ranked = {name: item for name, (item, _) in full.items()}
        centre = {name: values for name, (_, values) in full.items()}
    draws = {name: np.empty((n_boot, len(SCORECARD_METRICS))) for name in ranked}
    for draw in range(n_boot):  # a loop over draws; each draw is vectorized over customers
        counts = np.bincount(rng.integers(0, rows, size=rows), minlength=rows).astype("float64")
        for name, item in ranked.items():
            draws[name][draw] = _metrics(item, counts, top_share)
    return draws, centre, math.sqrt(rows / n), rows


def _interval(draws: np.ndarray, value: float, centre: float, scale: float) -> tuple[float, float]:
    """Percentile interval of ``draws``, as deviations from ``centre`` scaled around ``value``."""
    finite = draws[np.isfinite(draws)]
    if finite.size < 2 or not math.isfinite(value):
        return float("nan"), float("nan")
    tail = (1 - _CONFIDENCE) / 2 * 100
    low, high = np.percentile(finite - centre, [tail, 100 - tail])
    return float(value + scale * low), float(value + scale * high)


def scorecard(
    labels: ArrayLike,
    scores: Mapping[str, ArrayLike],
    *,
    n_boot: int = DEFAULTS.churn.bootstrap_draws,
    seed: int = DEFAULTS.seed,
    top_share: float = 0.1,
    max_rows: int = 200_000,
) -> pd.DataFrame:
    """Holdout metrics of several churn scorers, with paired 95% bootstrap intervals.

    Reads the holdout labels (one per customer, 1 = churned) and, per scorer, a score on the
    same customers in the same order; returns one row per scorer and metric
    (:data:`SCORECARD_METRICS`, defined in the module docstring): *scorer, metric, value,
    ci_low, ci_high, n, n_churned*, then one row per metric in (roc_auc, brier) and other
    scorer named ``"<first> - <other>"``: the paired difference (for brier, negative = the
    first scorer is better; for roc_auc, positive) and its interval. Values equal
    scikit-learn's metrics on the full data.

    Parameters
    ----------
    labels : array-like of 0/1 or bool
        Churned (1) or not (0), one per customer; both classes must occur.
    scores : Mapping[str, array-like]
        Scorer name -> P(churn) per customer (or a rank: brier and log_loss are then NaN).
        The first scorer is the one compared with the others.
    n_boot : int, default ``churn.bootstrap_draws``
        Bootstrap draws; 0 gives NaN intervals.
    seed : int, default the params file's ``seed`` default
        Seed of the draws (and of the subsample beyond ``max_rows``).
    top_share : float, default 0.1
        Share of highest-risk customers of ``top_decile_lift`` and ``top_decile_capture``.
    max_rows : int, default 200_000
        Most customers the bootstrap resamples (a seeded subsample beyond; see the module
        docstring). The values always use every customer.

    Returns
    -------
    pd.DataFrame
        Columns :data:`SCORECARD_COLUMNS`. ``attrs``: ``n_boot``, ``seed``, ``confidence``,
        ``top_share``, ``bootstrap_rows``, ``bootstrap_scale`` and ``method`` (in words).

    Raises
    ------
    ValueError
        Labels not 0/1, missing, or of a single class; scores missing, non-finite or of
        another length; an option out of range.

    Examples
    --------
    >>> labels = [0, 0, 1, 0, 1, 1, 0, 1, 0, 0]
    >>> model = [0.1, 0.2, 0.7, 0.3, 0.6, 0.9, 0.2, 0.4, 0.5, 0.1]
    >>> rule = [0.3, 0.3, 0.6, 0.3, 0.3, 0.6, 0.6, 0.6, 0.3, 0.3]
    >>> card = scorecard(labels, {"model": model, "rule": rule}, n_boot=50)
    >>> card.set_index(["scorer", "metric"]).loc[("model", "roc_auc"), "value"]
    np.float64(0.9583333333333334)
    >>> card["scorer"].unique().tolist()
    ['model', 'rule', 'model - rule']
    """
    if not (isinstance(n_boot, int | np.integer) and n_boot >= 0):
        raise ValueError(f"n_boot={n_boot!r}: expected an integer >= 0")
    if not 0 < top_share <= 1:
        raise ValueError(f"top_share={top_share!r}: expected a share in (0, 1]")
    if not (isinstance(max_rows, int | np.integer) and max_rows >= 10):
        raise ValueError(f"max_rows={max_rows!r}: expected an integer >= 10")
    y = _check_labels(labels)
    checked = _check_scores(scores, y.size)
    n, n_churned = int(y.size), int(y.sum())
    ones = np.ones(n)
    ranked = {name: _Ranked.of(values, y) for name, values in checked.items()}
    full = {name: _metrics(item, ones, top_share) for name, item in ranked.items()}
    draws, centre, scale, rows = _bootstrap(
        y, checked, {name: (ranked[name], full[name]) for name in ranked},
        n_boot=n_boot, seed=seed, top_share=top_share, max_rows=max_rows,
    )  # fmt: skip
    records = []
    for name in checked:
        for j, metric in enumerate(SCORECARD_METRICS):
            value = float(full[name][j])
            low, high = _interval(draws[name][:, j], value, centre[name][j], scale)
            records.append((name, metric, value, low, high))
    first, *others = checked
    for other in others:
        for metric in _DIFFERENCE_METRICS:
            j = SCORECARD_METRICS.index(metric)
            value = float(full[first][j] - full[other][j])
            low, high = _interval(
                draws[first][:, j] - draws[other][:, j], value,
                float(centre[first][j] - centre[other][j]), scale,
            )  # fmt: skip
            records.append((f"{first} - {other}", metric, value, low, high))
    card = pd.DataFrame(records, columns=list(SCORECARD_COLUMNS[:5]))
    card["scorer"] = card["scorer"].astype("str")
    card["metric"] = card["metric"].astype("str")
    card["n"] = n
    card["n_churned"] = n_churned
    method = (
        f"{n_boot} paired percentile bootstrap draws over {n:,} customers"
        if rows == n
        else f"{n_boot} paired bootstrap draws over a seeded subsample of {rows:,} of {n:,} "
        f"customers, deviations scaled by sqrt({rows:,}/{n:,}) = {scale:.3f} around the "
        "full-data value (m-out-of-n bootstrap)"
    )
    card.attrs.update({"n_boot": n_boot, "seed": seed, "confidence": _CONFIDENCE,
                       "top_share": top_share, "bootstrap_rows": rows,
                       "bootstrap_scale": scale, "method": method})  # fmt: skip
    log.info("scorecard of %d scorers on %d customers (%d churned): %s",
             len(checked), n, n_churned, method)  # fmt: skip
    return card


def calibration_table(
    labels: ArrayLike, scores: Mapping[str, ArrayLike], *, bins: int = 10
) -> pd.DataFrame:
    """Predicted vs observed churn rate by quantile bin of each scorer's probabilities.

    Reads the labels (one per customer) and scores (scorer -> P(churn) per customer);
    returns one row per scorer and non-empty bin: *scorer, bin* (1 = lowest predictions),
    *mean_predicted, observed_rate, n*. Bins are quantiles of the scorer's predictions with
    scikit-learn's rule (edges at the 0, 1/bins, ..., 1 percentiles; a value on an inner edge
    falls in the lower bin), so ``mean_predicted`` and ``observed_rate`` equal
    ``sklearn.calibration.calibration_curve(strategy="quantile")``. Ties can leave a bin
    empty; empty bins are dropped, as there. A scorer with values outside [0, 1] is not a
    probability: it is skipped (named in ``attrs["skipped"]``, with a warning).

    Raises
    ------
    ValueError
        As :func:`scorecard` for labels and scores; ``bins`` < 1.

    Examples
    --------
    >>> labels = [0, 0, 1, 0, 1, 1, 0, 1, 0, 0]
    >>> model = [0.1, 0.2, 0.7, 0.3, 0.6, 0.9, 0.2, 0.4, 0.5, 0.1]
    >>> calibration_table(labels, {"model": model}, bins=2)
      scorer  bin  mean_predicted  observed_rate  n
    0  model    1            0.18            0.0  5
    1  model    2            0.62            0.8  5
    """
    if not (isinstance(bins, int | np.integer) and bins >= 1):
        raise ValueError(f"bins={bins!r}: expected an integer >= 1")
    y = _check_labels(labels)
    checked = _check_scores(scores, y.size)
    frames, skipped = [], []
    for name, values in checked.items():
        if not _is_probability(values):
            skipped.append(name)
            log.warning("calibration: scorer %r has values outside [0, 1] (a rank, not a "
                        "probability); skipped", name)  # fmt: skip
            continue
        edges = np.percentile(values, np.linspace(0, 100, bins + 1))
        ids = np.searchsorted(edges[1:-1], values)
        n = np.bincount(ids, minlength=bins)
        predicted = np.bincount(ids, weights=values, minlength=bins)
        observed = np.bincount(ids, weights=y, minlength=bins)
        used = n > 0
        frames.append(pd.DataFrame({
            "scorer": name, "bin": np.flatnonzero(used) + 1,
            "mean_predicted": predicted[used] / n[used],
            "observed_rate": observed[used] / n[used], "n": n[used],
        }))  # fmt: skip
    table = (
        pd.concat(frames, ignore_index=True) if frames
        else pd.DataFrame({column: [] for column in CALIBRATION_COLUMNS})
    )  # fmt: skip
    table = table.astype({"scorer": "str", "bin": "int64", "mean_predicted": "float64",
                          "observed_rate": "float64", "n": "int64"})  # fmt: skip
    table.attrs.update({"bins": bins, "skipped": skipped})
    return table


def gains_table(
    labels: ArrayLike, scores: Mapping[str, ArrayLike], *, bins: int = 10
) -> pd.DataFrame:
    """Cumulative gains: the share of churners reached by targeting the highest scores first.

    Reads the labels (one per customer) and scores (scorer -> score per customer; ranks are
    fine); returns one row per scorer and decile (``bins`` groups; 1 = highest risk):
    *scorer, decile, share_targeted* (= decile / bins), *captured_share* (cumulative share of
    all churners among the targeted customers) and *lift* (= captured_share /
    share_targeted: the targeted group's churn rate over the overall rate). Ties and a
    fractional boundary customer count pro rata, exactly as in :func:`scorecard`: decile 1
    of ``bins=10`` equals its ``top_decile_capture`` and ``top_decile_lift``.

    Raises
    ------
    ValueError
        As :func:`scorecard` for labels and scores; ``bins`` < 1.

    Examples
    --------
    >>> labels = [0, 0, 1, 0, 1, 1, 0, 1, 0, 0]
    >>> model = [0.1, 0.2, 0.7, 0.3, 0.6, 0.9, 0.2, 0.4, 0.5, 0.1]
    >>> gains_table(labels, {"model": model}, bins=5).round(3)
      scorer  decile  share_targeted  captured_share   lift
    0  model       1             0.2            0.50  2.500
    1  model       2             0.4            0.75  1.875
    2  model       3             0.6            1.00  1.667
    3  model       4             0.8            1.00  1.250
    4  model       5             1.0            1.00  1.000
    """
    if not (isinstance(bins, int | np.integer) and bins >= 1):
        raise ValueError(f"bins={bins!r}: expected an integer >= 1")
    y = _check_labels(labels)
    checked = _check_scores(scores, y.size)
    shares = np.arange(1, bins + 1) / bins
    frames = []
    for name, values in checked.items():
        pos, neg = _Ranked.of(values, y).group_weights(np.ones(y.size))
        cum_pos = np.cumsum(pos)
        captured = _captured(pos, neg, cum_pos, cum_pos + np.cumsum(neg), shares) / pos.sum()
        frames.append(pd.DataFrame({
            "scorer": name, "decile": np.arange(1, bins + 1), "share_targeted": shares,
            "captured_share": captured, "lift": captured / shares,
        }))  # fmt: skip
    table = pd.concat(frames, ignore_index=True)
    table = table.astype({"scorer": "str", "decile": "int64"})
    table.attrs["bins"] = bins
    return table


@dataclass(frozen=True)
class HoldoutScores:
    """Scores of the chosen model and the baselines on the validation customers, and the labels.

    ``notes`` say what a reader of the page needs (a baseline left out, and why);
    ``fit_notes`` how the BTYD baseline was refitted (for analysts: a folded details block).
    """

    labels: np.ndarray
    scores: dict[str, np.ndarray]
    probabilities: dict[str, np.ndarray]
    notes: tuple[str, ...]
    fit_notes: tuple[str, ...] = ()
