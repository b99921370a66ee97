"""Churn drivers: permutation importance, partial dependence and per-customer reason codes."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.inspection import permutation_importance
from sklearn.metrics import roc_auc_score

from crmlib.checks import require_columns
from crmlib.churn._models import UNKNOWN_LEVEL, FittedChurnModel, _feature_frame, _label_array
from crmlib.errors import DataContractError

__all__ = [
    "permutation_importance_table",
    "partial_dependence_table",
    "reason_codes",
]

log = logging.getLogger(__name__)

#: Most levels of one categorical feature in a partial-dependence table (the most frequent).
_MAX_LEVELS = 50
#: Below this tenure a customer is called new in the reason words.
_NEW_CUSTOMER_DAYS = 180
_TEXT = np.dtypes.StringDType()


def _model_features(model: FittedChurnModel) -> list[str]:
    return [*model.numeric_, *model.categorical_]


def _sample_rows(n_rows: int, max_rows: int, rng: np.random.Generator) -> np.ndarray:
    """All row positions, or ``max_rows`` of them drawn without replacement (sorted)."""
    if int(max_rows) < 1:
        raise ValueError(f"max_rows={max_rows!r}: expected a whole number >= 1")
    if n_rows <= max_rows:
        return np.arange(n_rows)
    return np.sort(rng.choice(n_rows, size=int(max_rows), replace=False))


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


def permutation_importance_table(
    model: FittedChurnModel,
    frame: pd.DataFrame,
    *,
    label_col: str = "churned",
    max_rows: int = 20_000,
    n_repeats: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """How much the model's ranking of churners suffers when one feature is shuffled.

    Reads *frame* (one row per customer with the features and the label, ideally held-out
    data); returns one row per raw feature column, numeric and categorical: *feature*,
    *importance_mean*, *importance_sd*, largest first. Each raw column is permuted in turn
    through the whole calibrated model [1]_; importance is the **drop in ROC AUC** (mean and
    sd, ddof=0, over ``n_repeats`` shuffles). ROC AUC rather than log loss: the contact list
    acts on the ranking, and the drop reads on a fixed scale (0.05 = five AUC points,
    whatever the churn rate); near 0 or below, the feature does not help.

    Computed by :func:`sklearn.inspection.permutation_importance` on up to ``max_rows``
    customers drawn by ``np.random.default_rng(seed)``, shuffles with ``random_state=seed``.
    ``table.attrs`` holds ``baseline_roc_auc``, ``rows`` and ``scoring``.

    Parameters
    ----------
    model : FittedChurnModel
        Fitted model (``predict_proba``, ``numeric_``, ``categorical_``).
    frame : pd.DataFrame
        Labelled churn features, one row per customer.
    label_col : str, default "churned"
        Bool label column.
    max_rows : int, default 20_000
        Most customers used.
    n_repeats : int, default 5
        Shuffles per feature.
    seed : int, default 0
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
    rng = np.random.default_rng(seed)
    rows = _sample_rows(len(frame), max_rows, rng)
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
    result = permutation_importance(
        estimator, raw, labels, scoring=_roc_auc_scorer, n_repeats=int(n_repeats), random_state=seed
    )
    table = pd.DataFrame(
        {
            "feature": pd.array(features, dtype="str"),
            "importance_mean": result.importances_mean,
            "importance_sd": result.importances_std,
        }
    )
    table = table.sort_values("importance_mean", ascending=False, kind="stable")
    table = table.reset_index(drop=True)
    table.attrs.update(
        baseline_roc_auc=_roc_auc_scorer(estimator, raw, labels),
        rows=len(rows),
        scoring="roc_auc",
    )
    log.info("permutation importance of %d features on %d rows", len(features), len(rows))
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
    seed: int = 0,
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
    logged). Up to ``max_rows`` customers are drawn at random (``default_rng(seed)``).

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
    seed : int, default 0
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
    rows = _sample_rows(len(frame), max_rows, np.random.default_rng(seed))
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
    return table.astype({"feature": "str", "value": object, "kind": "str", "mean_p_churn": float})


# -- reason codes ---------------------------------------------------------------------------
def _text(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=_TEXT)


def _join(*parts: Any) -> np.ndarray:
    """Element-wise concatenation of strings and string arrays."""
    return functools.reduce(np.strings.add, [_text(part) for part in parts])


def _pick(condition: np.ndarray, when_true: Any, otherwise: Any) -> np.ndarray:
    return np.where(condition, _text(when_true), _text(otherwise))


def _count(values: np.ndarray) -> np.ndarray:
    """Whole numbers as text (NaN reads 0)."""
    return np.round(np.nan_to_num(values)).astype(np.int64).astype(_TEXT)


def _plural(values: np.ndarray) -> np.ndarray:
    return _pick(np.round(np.nan_to_num(values)) == 1, "", "s")


def _n(values: np.ndarray, noun: str) -> np.ndarray:
    """``"1 order"``, ``"4 orders"``."""
    return _join(_count(values), f" {noun}", _plural(values))


def _number(values: np.ndarray) -> np.ndarray:
    """Whole numbers without decimals, others with two."""
    whole = np.isclose(values, np.round(values))
    return _pick(whole, _count(values), np.strings.mod("%.2f", np.nan_to_num(values)))


class _Values:
    """Feature values of the customers that need words (``rows``), read on demand."""

    def __init__(self, frame: pd.DataFrame, rows: np.ndarray) -> None:
        self.frame, self.rows = frame, rows

    def num(self, name: str) -> np.ndarray | None:
        """A numeric column at ``rows`` (float64), or None when absent or not numeric."""
        if name not in self.frame.columns:
            return None
        try:
            return self.frame[name].to_numpy(dtype="float64", na_value=np.nan)[self.rows]
        except (TypeError, ValueError):
            return None

    def text(self, name: str) -> np.ndarray:
        """A categorical column at ``rows`` as text, missing = ``"(unknown)"``."""
        part = self.frame[name].iloc[self.rows].astype("str").fillna(UNKNOWN_LEVEL)
        return _text(part.to_numpy(dtype=object))


def _recency_words(values: _Values, x: np.ndarray) -> np.ndarray:
    recency, gap = values.num("recency_days"), values.num("mean_gap_days")
    if recency is None:  # only the ratio is known
        return _join("waited ", np.strings.mod("%.1f", np.nan_to_num(x)), " times the usual gap")
    words = _pick(
        recency <= 0, "last order on the cutoff day", _join("no order for ", _n(recency, "day"))
    )
    if gap is None:
        return words
    return _pick(
        np.isfinite(gap) & (recency > 0), _join(words, ", usually every ", _count(gap)), words
    )


def _window_words(values: _Values, what: str, days: str, x: np.ndarray) -> np.ndarray:
    last = f" in the last {days} days"
    if what == "orders":
        fewer = _pick(x == 1, f"only 1 order{last}", _join(_n(x, "order"), last))
        return _pick(x == 0, f"no order{last}", fewer)
    if what == "spend":
        return _pick(x <= 0, f"no spend{last}", _join("spent ", _count(x), last))
    if what == "sends":
        return _pick(
            x == 0, f"received no messages{last}", _join("received ", _n(x, "message"), last)
        )
    if what == "unsubscribes":
        return _pick(x > 0, f"unsubscribed{last}", f"no unsubscribe{last}")
    verb, sends = ("opened" if what == "opens" else "clicked"), values.num(f"sends_{days}d")
    if sends is None:
        return _pick(x == 0, f"{verb} no messages{last}", _join(f"{verb} ", _n(x, "time"), last))
    of_sends = _join(_n(sends, "message"), last)
    some = _pick(
        x == 0, _join(f"{verb} none of ", of_sends), _join(f"{verb} ", _count(x), " of ", of_sends)
    )
    return _pick(~(sends > 0), f"received no messages{last}", some)


def _trend_words(values: _Values, what: str, days: str, trend: np.ndarray) -> np.ndarray:
    current, verb = values.num(f"{what}_{days}d"), "ordering" if what == "orders" else "spending"
    direction = _pick(trend < 0, f"{verb} less: ", _pick(trend > 0, f"{verb} more: ", ""))
    if current is None:  # the change only
        change = _n(np.abs(trend), "order") if what == "orders" else _count(np.abs(trend))
        more = _pick(trend < 0, " fewer", " more")
        return _join(direction, change, more, f" in the last {days} days than in the {days} before")
    now = _n(current, "order") if what == "orders" else _count(current)
    before = _count(current - trend)
    return _join(direction, now, f" in the last {days} days vs ", before, f" in the {days} before")


_CONSENT = {"email_opt_in": "e-mail", "sms_opt_in": "SMS", "push_opt_in": "push"}
_CATEGORY_WORDS = {
    "acquisition_channel": "acquired via ",
    "loyalty_tier": "loyalty tier ",
    "region": "region ",
    "age_band": "age band ",
}
_WINDOW = re.compile(r"^(orders|spend|sends|opens|clicks|unsubscribes)_(\d+)d$")
_TREND = re.compile(r"^(orders|spend)_trend_(\d+)d$")
_OPEN_RATE = re.compile(r"^open_rate_(\d+)d$")


def _numeric_words(values: _Values, feature: str) -> np.ndarray:
    """Plain words for one numeric feature from each customer's own values."""
    x = values.num(feature)
    if x is None:
        raise DataContractError(f"churn features: column '{feature}' is not numeric")
    templates: dict[str, Callable[[], np.ndarray]] = {
        "recency_days": lambda: _recency_words(values, x),
        "recency_gap_ratio": lambda: _recency_words(values, x),
        "mean_gap_days": lambda: _join("usually orders only every ", _n(x, "day")),
        "sd_gap_days": lambda: _join("irregular ordering: gaps vary by ", _n(x, "day")),
        "return_share": lambda: _join("returned ", _count(100 * x), "% of what they bought"),
        "unsubscribed_ever": lambda: _pick(x >= 0.5, "unsubscribed from messages", "never unsubscribed"),
        "tenure_days": lambda: _pick(
            x < _NEW_CUSTOMER_DAYS, _join("new customer: first order ", _n(x, "day"), " ago"),
            _join("first order ", _n(x, "day"), " ago"),
        ),
        "orders_total": lambda: _pick(x <= 1, "only one order so far", _join(_n(x, "order"), " so far")),
        "spend_total": lambda: _join("spent ", _count(x), " in total"),
        "category_count": lambda: _pick(
            x <= 1, "bought from only one category", _join("bought from ", _count(x), " categories")
        ),
        "age_years": lambda: _join("aged ", _count(x)),
    }  # fmt: skip
    if feature in templates:
        return templates[feature]()
    if feature in _CONSENT:
        return _pick(
            x < 0.5, f"no {_CONSENT[feature]} consent", f"gave {_CONSENT[feature]} consent"
        )
    if match := _WINDOW.match(feature):
        return _window_words(values, match[1], match[2], x)
    if match := _TREND.match(feature):
        return _trend_words(values, match[1], match[2], x)
    if match := _OPEN_RATE.match(feature):
        days = match[1]
        sends, opens = values.num(f"sends_{days}d"), values.num(f"opens_{days}d")
        if sends is not None:
            return _window_words(values, "opens", days, opens if opens is not None else x * sends)
        return _join("opened ", _count(100 * x), f"% of messages in the last {days} days")
    return _join(feature.replace("_", " "), " is ", _number(x))


def _words(values: _Values, feature: str, kind: str) -> np.ndarray:
    if kind == "categorical":
        prefix = _CATEGORY_WORDS.get(feature, feature.replace("_", " ") + " ")
        return _join(prefix, values.text(feature))
    return _numeric_words(values, feature)


def _contributions(frame: pd.DataFrame, part: pd.DataFrame, feature: str, kind: str) -> np.ndarray:
    """PD_j(x_ij) - mean_i PD_j(x_ij) for one feature; 0 where the value is missing or off-grid."""
    dependence = np.full(len(frame), np.nan)
    if kind == "numeric":
        grid = part["value"].to_numpy(dtype="float64")
        order = np.argsort(grid, kind="stable")
        x = _feature_frame(frame, [feature], [], table_name="churn features")[feature].to_numpy()
        known = np.isfinite(x)
        dependence[known] = np.interp(x[known], grid[order], part["mean_p_churn"].to_numpy()[order])
    else:
        levels = frame[feature].astype("str").fillna(UNKNOWN_LEVEL)
        found = pd.Index(part["value"].astype(str).to_numpy(dtype=object)).get_indexer(levels)
        known = found >= 0
        dependence[known] = part["mean_p_churn"].to_numpy(dtype="float64")[found[known]]
    if not known.any():
        return np.zeros(len(frame))
    return np.nan_to_num(dependence - np.nanmean(dependence), nan=0.0)


def _reason_group(feature: str) -> str:
    """Features that describe one fact share a reason: their contributions add up."""
    if feature in ("recency_days", "recency_gap_ratio"):
        return "recency"
    match = re.match(r"^(?:opens|open_rate)_(\d+)d$", feature)
    return f"opens_{match[1]}d" if match else feature


def _top(contributions: np.ndarray, shown: int, floor: float) -> np.ndarray:
    """Column of the largest, second largest, ... value per row (-1 once at or below floor)."""
    work = contributions.copy()
    rows = np.arange(len(work))
    order = np.full((len(work), shown), -1, dtype=np.intp)
    for k in range(shown):
        best = np.argmax(work, axis=1)
        order[:, k] = np.where(work[rows, best] > floor, best, -1)
        work[rows, best] = -np.inf
    return order


def reason_codes(
    model: FittedChurnModel,
    frame: pd.DataFrame,
    *,
    pd_table: pd.DataFrame,
    top_n: int = 3,
    min_contribution: float = 0.001,
) -> pd.DataFrame:
    """The top reasons, in plain words, why each customer's churn risk is above average.

    Reads *frame* (one row per customer with ``customer_id`` and the features in
    ``pd_table``) and returns one row per customer, same order: *customer_id*, *reason_1* ..
    *reason_{top_n}* (str; "" when the customer has fewer reasons). Additive
    partial-dependence contributions [1]_: for feature j and customer i, contribution =
    PD_j(x_ij) - mean_i PD_j(x_ij), with PD_j from ``pd_table`` (as from
    :func:`partial_dependence_table`), linearly interpolated between numeric grid values
    (held flat beyond the ends), looked up for categorical levels; a missing value or a
    level off the grid contributes 0. The mean is over the customers of ``frame``. Features
    describing one fact share a reason and add their contributions (``recency_days`` with
    ``recency_gap_ratio``, ``opens_{N}d`` with ``open_rate_{N}d``). Contributions above
    ``min_contribution`` become reasons, largest first, in words built from the customer's
    own values (e.g. "no order for 140 days, usually every 35", "opened none of 6
    messages in the last 90 days", "acquired via paid_search"; a feature without a template
    reads "<feature words> is <value>"). Ids never appear in the words: features named
    ``*_id`` are ignored. This ignores interactions; it is a reading aid, not a decomposition
    of the model.

    Parameters
    ----------
    model : FittedChurnModel
        The model ``pd_table`` describes (its features are checked).
    frame : pd.DataFrame
        Customers to explain, one row each.
    pd_table : pd.DataFrame
        *feature, value, kind, mean_p_churn*.
    top_n : int, default 3
        Reasons per customer.
    min_contribution : float, default 0.001
        Smallest contribution (in probability: 0.001 = 0.1 percentage point) that counts as
        a reason, so that the wiggles of an irrelevant feature's partial dependence do not
        read as reasons; 0 keeps every positive contribution.

    Returns
    -------
    pd.DataFrame
        One row per customer.

    References
    ----------
    .. [1] Friedman, J. H. (2001). Greedy function approximation: a gradient boosting
       machine. Annals of Statistics 29(5), 1189-1232.

    Examples
    --------
    >>> class Toy:
    ...     name, numeric_, categorical_ = "toy", ("recency_days", "orders_90d"), ()
    >>> pd_table = pd.DataFrame({"feature": ["recency_days"] * 2 + ["orders_90d"] * 2,
    ...                          "value": [0.0, 200.0, 0.0, 4.0], "kind": "numeric",
    ...                          "mean_p_churn": [0.1, 0.5, 0.4, 0.2]})
    >>> frame = pd.DataFrame({"customer_id": ["a", "b"], "recency_days": [140.0, 10.0],
    ...                       "mean_gap_days": [35.0, 20.0], "orders_90d": [0.0, 3.0]})
    >>> reasons = reason_codes(Toy(), frame, pd_table=pd_table, top_n=2)
    >>> reasons.iloc[0].tolist()
    ['a', 'no order for 140 days, usually every 35', 'no order in the last 90 days']
    >>> reasons.iloc[1].tolist()  # recent and ordering: below-average risk, no reason
    ['b', '', '']
    """
    require_columns(pd_table, ["feature", "value", "kind", "mean_p_churn"], table_name="pd_table")
    if int(top_n) < 1 or not min_contribution >= 0:
        raise ValueError(
            f"top_n={top_n!r}, min_contribution={min_contribution!r}: expected top_n >= 1 "
            "and min_contribution >= 0"
        )
    model_features = _model_features(model)
    features = [str(f) for f in dict.fromkeys(pd_table["feature"]) if not str(f).endswith("_id")]
    strangers = [name for name in features if name not in model_features]
    if strangers:
        raise DataContractError(
            f"pd_table: feature '{strangers[0]}' is not a feature of model {model.name!r}; "
            f"expected some of {model_features}"
        )
    require_columns(frame, ["customer_id", *features], table_name="churn features")
    n_rows, top_n = len(frame), int(top_n)
    kinds = {str(f): str(k) for f, k in zip(pd_table["feature"], pd_table["kind"], strict=True)}
    groups = list(dict.fromkeys(_reason_group(f) for f in features))
    lead = {group: next(f for f in features if _reason_group(f) == group) for group in groups}
    contributions = np.zeros((n_rows, max(len(groups), 1)))
    for feature in features:
        part = pd_table[pd_table["feature"] == feature]
        column = groups.index(_reason_group(feature))
        contributions[:, column] += _contributions(frame, part, feature, kinds[feature])
    shown = min(top_n, len(groups))
    order = _top(contributions, shown, float(min_contribution)).ravel()
    by_group = np.argsort(order, kind="stable")  # flat positions grouped by reason, in row order
    bounds = np.searchsorted(order[by_group], np.arange(len(groups) + 1))
    reasons = np.full(n_rows * shown, "", dtype=_TEXT)
    for column, group in enumerate(groups):
        positions = by_group[bounds[column] : bounds[column + 1]]
        if positions.size:
            values = _Values(frame, positions // shown)
            reasons[positions] = _words(values, lead[group], kinds[lead[group]])
    texts = reasons.reshape(n_rows, shown).astype(object)
    table = pd.DataFrame({"customer_id": pd.array(frame["customer_id"].astype("str"), dtype="str")})
    for k in range(top_n):
        column_texts = texts[:, k] if k < shown else np.full(n_rows, "", dtype=object)
        table[f"reason_{k + 1}"] = pd.array(column_texts, dtype="str")
    log.info("reason codes for %d customers from %d features", n_rows, len(features))
    return table
