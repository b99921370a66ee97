"""Churn drivers: permutation importance and partial dependence of a fitted churn model.

The per-customer reasons built from the partial dependence are words:
:func:`crmlib.churn.text.reason_codes`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.metrics import roc_auc_score
from sklearn.utils import check_random_state

from crmlib.checks import require_columns
from crmlib.churn.models.training import FittedChurnModel, _feature_frame, _label_array
from crmlib.config import DEFAULTS
from crmlib.errors import DataContractError
from crmlib.sampling import sample_rows

__all__ = [
    "permutation_importance_table",
    "partial_dependence_table",
]

log = logging.getLogger(__name__)

#: Most levels of one categorical feature in a partial-dependence table (the most frequent).
_MAX_LEVELS = 50


def _model_features(model: FittedChurnModel) -> list[str]:
    return [*model.numeric_, *model.categorical_]


class _ModelEstimator(BaseEstimator):  # type: ignore[misc]
    """A fitted churn model seen as a scikit-learn estimator, for :mod:`sklearn.inspection`."""

    def __init__(self, model: Any = None) -> None:
        self.model = model

    def fit(self, X: Any, y: Any = None) -> _ModelEstimator:
        """Nothing to fit: the model is fitted already."""
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Two columns, P(stay) and P(churn), as scikit-learn classifiers return them."""
        churn = np.asarray(self.model.predict_proba(X), dtype="float64")
        return np.column_stack([1.0 - churn, churn])


def _roc_auc_scorer(estimator: _ModelEstimator, X: pd.DataFrame, y: np.ndarray) -> float:
    """ROC AUC of the calibrated P(churn) (a scikit-learn scorer: greater is better)."""
    return float(roc_auc_score(y, estimator.predict_proba(X)[:, 1]))


def _permuted_scores(
    estimator: _ModelEstimator, raw: pd.DataFrame, labels: np.ndarray, *, n_repeats: int, seed: int
) -> np.ndarray:
    """ROC AUC with each column shuffled: an array (column, repeat).

    The shuffles of :func:`sklearn.inspection.permutation_importance` with
    ``random_state=seed``, reproduced exactly: one seed drawn from ``seed``, a fresh
    ``RandomState`` from it per column, and per repeat the index shuffled in place and applied
    to the column as the previous repeat left it. Instead of one pass through the model per
    column and repeat, the ``n_repeats`` shuffled copies of a column go through the model in
    one batch (the model scores each row on its own, so the scores are the same); that saves
    the model's fixed cost per call, which on 10,000 rows is most of the time.
    """
    random_seed = check_random_state(seed).randint(np.iinfo(np.int32).max + 1)
    n_rows = len(raw)
    repeated = pd.concat([raw] * n_repeats, ignore_index=True)
    scores = np.empty((raw.shape[1], n_repeats), dtype="float64")
    for position, name in enumerate(raw.columns):
        random_state = check_random_state(random_seed)
        shuffling = np.arange(n_rows)
        column = raw[name]
        copies = []
        for _ in range(n_repeats):
            random_state.shuffle(shuffling)
            column = column.iloc[shuffling].reset_index(drop=True)
            copies.append(column)
        batch = repeated.copy(deep=False)
        batch[name] = pd.concat(copies, ignore_index=True)
        churn = estimator.predict_proba(batch)[:, 1]
        for repeat in range(n_repeats):
            part = churn[repeat * n_rows : (repeat + 1) * n_rows]
            scores[position, repeat] = float(roc_auc_score(labels, part))
    return scores


def permutation_importance_table(
    model: FittedChurnModel,
    frame: pd.DataFrame,
    *,
    label_col: str = "churned",
    max_rows: int = DEFAULTS.churn.importance_max_rows,
    n_repeats: int = 5,
    seed: int = DEFAULTS.seed,
) -> pd.DataFrame:
    """How much the model's ranking of churners suffers when one feature is shuffled.

    Reads *frame* (one row per customer with the features and the label, ideally held-out
    data); returns one row per raw feature column, numeric and categorical: *feature*,
    *importance_mean*, *importance_sd*, largest first. Each raw column is permuted in turn
    through the whole calibrated model [1]_; importance is the **drop in ROC AUC** (mean and
    sd, ddof=0, over ``n_repeats`` shuffles). ROC AUC rather than log loss: the contact list
    acts on the ranking, and the drop reads on a fixed scale (0.05 = five AUC points,
    whatever the churn rate); near 0 or below, the feature does not help.

    Computed as :func:`sklearn.inspection.permutation_importance` does (the same shuffles and
    results, each column's shuffles scored in one batch: :func:`_permuted_scores`) on all
    customers or, above
    ``max_rows``, a random sample of ``max_rows`` (:func:`crmlib.sampling.sample_rows`, seeded
    with ``seed``); shuffles with ``random_state=seed``. The sample buys speed where it costs
    little accuracy: the cost grows with the rows (every shuffle of every feature runs them
    through the whole model), while on 10,000 customers the sampling error of a drop in AUC
    (a few thousandths) is far below the drops that order the leading features.
    ``table.attrs`` holds ``baseline_roc_auc``, ``rows`` (customers used),
    ``rows_total`` (customers in *frame*), ``n_repeats`` and ``scoring``; the page says which
    rows were used (:func:`crmlib.churn.text.describe_importance`).

    Parameters
    ----------
    model : FittedChurnModel
        Fitted model (``predict_proba``, ``numeric_``, ``categorical_``).
    frame : pd.DataFrame
        Labelled churn features, one row per customer.
    label_col : str, default "churned"
        Bool label column.
    max_rows : int, default ``churn.importance_max_rows``
        Most customers used (a random sample above it).
    n_repeats : int, default 5
        Shuffles per feature.
    seed : int, default the params file's ``seed`` default
        Seeds the row sample and the shuffles.

    Returns
    -------
    pd.DataFrame
        One row per feature.

    Raises
    ------
    DataContractError
        A feature or the label is missing, or the rows used hold a single class.

    References
    ----------
    .. [1] Breiman, L. (2001). Random forests. Machine Learning 45(1), 5-32; Fisher, A.,
       Rudin, C., & Dominici, F. (2019). All models are wrong, but many are useful. JMLR 20.

    Examples
    --------
    >>> class OnlyRecency:  # a stand-in model: risk grows with recency, ignores the region
    ...     name, numeric_, categorical_ = "toy", ("recency_days",), ("region",)
    ...     def predict_proba(self, frame):
    ...         return frame["recency_days"].to_numpy(dtype=float) / 100
    >>> frame = pd.DataFrame({"recency_days": [5, 10, 20, 40, 60, 80, 90, 95],
    ...                       "region": ["n", "s"] * 4,
    ...                       "churned": [False, False, False, True, False, True, True, True]})
    >>> table = permutation_importance_table(OnlyRecency(), frame, n_repeats=3)
    >>> table["feature"].tolist(), float(table["importance_mean"].iloc[-1])
    (['recency_days', 'region'], 0.0)
    """
    features = _model_features(model)
    require_columns(frame, [*features, label_col], table_name="churn features")
    if int(n_repeats) < 1:
        raise ValueError(f"n_repeats={n_repeats!r}: expected a whole number >= 1")
    rows = sample_rows(len(frame), max_rows, seed=seed).positions
    labels = _label_array(
        frame[label_col].iloc[rows], where=f"churn features: column '{label_col}'"
    ).astype(int)
    if not 0 < labels.sum() < len(labels):
        raise DataContractError(
            f"churn features: column '{label_col}' has a single class in the {len(labels):,} "
            "rows used; permutation importance needs churners and non-churners"
        )
    raw = frame[features].iloc[rows].reset_index(drop=True)
    estimator = _ModelEstimator(model)
    baseline = _roc_auc_scorer(estimator, raw, labels)
    drops = baseline - _permuted_scores(estimator, raw, labels, n_repeats=int(n_repeats), seed=seed)
    table = pd.DataFrame(
        {
            "feature": pd.array(features, dtype="str"),
            "importance_mean": drops.mean(axis=1),
            "importance_sd": drops.std(axis=1),
        }
    )
    table = table.sort_values("importance_mean", ascending=False, kind="stable")
    table = table.reset_index(drop=True)
    table.attrs.update(
        baseline_roc_auc=baseline,
        rows=len(rows),
        rows_total=len(frame),
        n_repeats=int(n_repeats),
        scoring="roc_auc",
    )
    log.info(
        "permutation importance of %d features on %d of %d rows",
        len(features),
        len(rows),
        len(frame),
    )
    return table


def _grid(values: pd.Series, kind: str, grid_points: int) -> list[Any]:
    """Grid of one feature: observed quantiles (numeric) or the most frequent levels."""
    if kind == "numeric":
        numbers = values.to_numpy(dtype="float64")
        numbers = numbers[np.isfinite(numbers)]
        if numbers.size == 0:
            return []
        quantiles = np.linspace(0.0, 1.0, int(grid_points))
        return [float(v) for v in np.unique(np.quantile(numbers, quantiles, method="inverted_cdf"))]
    counts = values.value_counts()
    ranked = sorted(zip(-counts.to_numpy(), counts.index.astype(str), strict=True))
    return [level for _, level in ranked][:_MAX_LEVELS]


def partial_dependence_table(
    model: FittedChurnModel,
    frame: pd.DataFrame,
    *,
    features: Sequence[str],
    grid_points: int = 20,
    max_rows: int = 5_000,
    seed: int = DEFAULTS.seed,
) -> pd.DataFrame:
    """Mean predicted churn probability as one feature is set to each value of a grid.

    Reads *frame* (one row per customer with the model's features) and returns one row per
    feature and grid value: *feature*, *value* (object column: a float for numeric features,
    a str level for categorical ones), *kind* ("numeric"/"categorical") and *mean_p_churn*,
    the brute-force partial dependence [1]_: every sampled customer gets the grid value for
    the feature, keeping their other features, and the calibrated ``model.predict_proba`` is
    averaged. The grid of a numeric feature is its observed quantiles at ``grid_points``
    evenly spaced levels from 0 to 1 (minimum to maximum, duplicates dropped; missing values
    ignored); a categorical feature's grid is its levels (missing = ``"(unknown)"``), most
    frequent first, at most 50. A feature with no observed value gets no rows (a warning is
    logged). Up to ``max_rows`` customers are drawn at random
    (:func:`crmlib.sampling.sample_rows`, seeded with ``seed``); ``table.attrs`` holds ``rows``
    (customers averaged over) and ``rows_total`` (customers in *frame*).

    Parameters
    ----------
    model : FittedChurnModel
        Fitted model.
    frame : pd.DataFrame
        Churn features, one row per customer.
    features : sequence of str
        Features of the model to describe, in the order wanted.
    grid_points : int, default 20
        Quantile levels of a numeric feature (at least 2).
    max_rows : int, default 5_000
        Most customers averaged over.
    seed : int, default the params file's ``seed`` default
        Seeds the row sample.

    Returns
    -------
    pd.DataFrame
        One row per feature and grid value.

    References
    ----------
    .. [1] Friedman, J. H. (2001). Greedy function approximation: a gradient boosting
       machine. Annals of Statistics 29(5), 1189-1232.

    Examples
    --------
    >>> class Additive:  # a stand-in model: 1% per 10 days of recency, +20% in region s
    ...     name, numeric_, categorical_ = "toy", ("recency_days",), ("region",)
    ...     def predict_proba(self, frame):
    ...         return frame["recency_days"].to_numpy(dtype=float) / 1000 + (frame["region"] == "s") * 0.2
    >>> frame = pd.DataFrame({"recency_days": [0, 100, 200, 300], "region": ["n", "n", "n", "s"]})
    >>> partial_dependence_table(Additive(), frame, features=["recency_days", "region"], grid_points=3)
            feature  value         kind  mean_p_churn
    0  recency_days    0.0      numeric          0.05
    1  recency_days  100.0      numeric          0.15
    2  recency_days  300.0      numeric          0.35
    3        region      n  categorical          0.15
    4        region      s  categorical          0.35
    """
    model_features = _model_features(model)
    features = [features] if isinstance(features, str) else list(features)
    strangers = [name for name in features if name not in model_features]
    if strangers:
        raise ValueError(
            f"features={strangers!r}: not features of model {model.name!r}; "
            f"expected some of {model_features}"
        )
    if int(grid_points) < 2:
        raise ValueError(f"grid_points={grid_points!r}: expected at least 2")
    require_columns(frame, model_features, table_name="churn features")
    rows = sample_rows(len(frame), max_rows, seed=seed).positions
    sample = frame[model_features].iloc[rows].reset_index(drop=True)
    coerced = _feature_frame(
        sample, model.numeric_, model.categorical_, table_name="churn features"
    )
    n_rows = len(sample)
    parts = []
    for feature in features:
        kind = "categorical" if feature in model.categorical_ else "numeric"
        grid = _grid(coerced[feature], kind, grid_points) if n_rows else []
        if not grid:
            log.warning("partial dependence: %s has no observed value; left out", feature)
            continue
        stacked = sample.iloc[np.tile(np.arange(n_rows), len(grid))].reset_index(drop=True)
        repeated = np.repeat(np.asarray(grid, dtype=object), n_rows)
        stacked[feature] = repeated.astype("float64") if kind == "numeric" else repeated
        proba = np.asarray(model.predict_proba(stacked), dtype="float64")
        parts.append(
            pd.DataFrame(
                {
                    "feature": feature,
                    "value": pd.Series(grid, dtype=object),
                    "kind": kind,
                    "mean_p_churn": proba.reshape(len(grid), n_rows).mean(axis=1),
                }
            )
        )
    columns = ["feature", "value", "kind", "mean_p_churn"]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    table = table.astype({"feature": "str", "value": object, "kind": "str", "mean_p_churn": float})
    table.attrs.update(rows=n_rows, rows_total=len(frame))
    return table
