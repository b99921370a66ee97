"""Churn models: calibrated logistic regression and gradient boosting, compared on held-out data.

:class:`ChurnTraining` holds what 06_churn's training step returns: the fitted candidates,
their comparison, the scorer chosen, the recency rule and, when no model could be trained,
the fallback and its reason.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from crmlib.checks import require_columns
from crmlib.churn.models.baselines import RecencyRank
from crmlib.config import DEFAULTS
from crmlib.errors import DataContractError
from crmlib.privacy import MIN_CELL_SIZE, SmallCells
from crmlib.sampling import RowSample

__all__ = [
    "MODEL_NAMES",
    "CALIBRATIONS",
    "UNKNOWN_LEVEL",
    "FittedChurnModel",
    "ChurnModel",
    "fit_churn_models",
    "model_comparison",
    "choose_model",
    "ChurnTraining",
    "trainability",
]

log = logging.getLogger(__name__)

#: The models :func:`fit_churn_models` can train, in its default order.
MODEL_NAMES: tuple[str, ...] = ("logistic", "hist_gradient_boosting")

#: Calibration methods: isotonic regression or Platt's sigmoid on the model's raw score.
CALIBRATIONS: tuple[str, ...] = ("isotonic", "sigmoid")

#: The level a missing categorical value is given (as in the churn feature table).
UNKNOWN_LEVEL = "(unknown)"

#: L-BFGS iteration limit of the logistic regression (a ConvergenceWarning is logged, noted).
_LOGISTIC_MAX_ITER = 2_000

#: Boosting: at most this many iterations, stopped early on a seeded internal validation split.
_BOOSTING_MAX_ITER = 500

_BOOSTING_VALIDATION_FRACTION = 0.1

_BOOSTING_PATIENCE = 10

#: HistGradientBoosting takes at most 255 categories per feature; rarer ones become missing.
_MAX_CATEGORIES = 255

#: The technical floor of :func:`fit_churn_models`; business thresholds: :func:`trainability`.
_FLOOR_CUSTOMERS = 20

_FLOOR_CLASS_COUNT = 5

#: Rows scored at a time: bounds memory and keeps the working arrays in reused memory.
_SCORE_CHUNK_ROWS = 100_000

#: Below this many rows OpenMP runs one thread: faster, and no spin-waiting on a busy machine.
_PARALLEL_MIN_ROWS = 20_000


@runtime_checkable
class FittedChurnModel(Protocol):
    """What drivers, scorecard and value code need from a fitted churn model (duck-typed)."""

    @property
    def name(self) -> str: ...

    @property
    def numeric_(self) -> tuple[str, ...]: ...

    @property
    def categorical_(self) -> tuple[str, ...]: ...

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray: ...


@dataclass(frozen=True)
class ChurnModel:
    """A fitted, calibrated churn model: P(no purchase within the horizon) per customer.

    Attributes
    ----------
    name : str
        ``"logistic"`` or ``"hist_gradient_boosting"``.
    pipeline_ : Pipeline
        Preprocessing and classifier, fitted on the fit part of the training rows.
    calibrator_ : CalibratedClassifierCV
        The frozen pipeline calibrated on the held-out calibration part.
    numeric_, categorical_ : tuple of str
        Feature columns the model reads.
    train_rows_, calibration_rows_ : int
        Customers used to fit the classifier, and to calibrate it.
    base_rate_ : float
        Churn share of the training rows used (fit and calibration parts together).
    calibration_ : str
        ``"isotonic"`` or ``"sigmoid"``.
    notes : tuple of str
        What a reader should know about the fit (subsample, early stopping, convergence).
    """

    name: str
    pipeline_: Pipeline = field(repr=False)
    calibrator_: CalibratedClassifierCV = field(repr=False)
    numeric_: tuple[str, ...]
    categorical_: tuple[str, ...]
    train_rows_: int
    calibration_rows_: int
    base_rate_: float
    calibration_: str
    notes: tuple[str, ...] = ()

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated P(churn), one per row of ``frame`` (1-D float array, same order).

        ``frame`` holds one row per customer with at least the feature columns; missing
        numeric values are allowed (NaN), a missing categorical value counts as
        ``"(unknown)"`` and a level not seen in training as missing. Scored in chunks of
        100,000 rows. A missing feature column, or a numeric one holding non-numbers, is a
        DataContractError naming the column.
        """
        require_columns(frame, [*self.numeric_, *self.categorical_], table_name="churn features")
        proba = np.empty(len(frame), dtype="float64")
        with threadpool_limits(limits=_threads(len(frame)), user_api="openmp"):
            for start in range(0, len(frame), _SCORE_CHUNK_ROWS):
                part = frame.iloc[start : start + _SCORE_CHUNK_ROWS]
                features = _feature_frame(
                    part, self.numeric_, self.categorical_, table_name="churn features"
                )
                proba[start : start + len(part)] = self.calibrator_.predict_proba(features)[:, 1]
        return np.clip(proba, 0.0, 1.0)


def _threads(n_rows: int) -> int | None:
    """OpenMP threads for ``n_rows`` rows: one for small data, else no limit (None)."""
    return 1 if n_rows < _PARALLEL_MIN_ROWS else None


def _feature_names(
    numeric: Sequence[str], categorical: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The feature names as tuples, checked: at least one, none twice."""
    if isinstance(numeric, str) or isinstance(categorical, str):
        raise TypeError("numeric= and categorical= take sequences of column names, not a string")
    numeric_t, categorical_t = tuple(map(str, numeric)), tuple(map(str, categorical))
    names = [*numeric_t, *categorical_t]
    if not names:
        raise ValueError("numeric= and categorical= are both empty: expected at least one feature")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"feature {repeated[0]!r} is listed twice; expected each feature once")
    return numeric_t, categorical_t


def _feature_frame(
    frame: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    *,
    table_name: str,
) -> pd.DataFrame:
    """The model input: numeric columns as float64 (inf -> NaN), categoricals as str.

    A missing categorical value becomes :data:`UNKNOWN_LEVEL`. The result has a fresh
    RangeIndex and only the feature columns, numeric first.
    """
    require_columns(frame, [*numeric, *categorical], table_name=table_name)
    columns: dict[str, Any] = {}
    for name in numeric:
        try:
            values = frame[name].to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise DataContractError(
                f"{table_name}: column '{name}' is {frame[name].dtype}, expected numbers "
                "(NaN where undefined)"
            ) from exc
        columns[name] = np.where(np.isfinite(values), values, np.nan)
    for name in categorical:
        levels = frame[name].astype("str").fillna(UNKNOWN_LEVEL)
        columns[name] = levels.array
    return pd.DataFrame(columns, index=pd.RangeIndex(len(frame)), columns=[*numeric, *categorical])


class _CategoryCodes(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Categorical columns -> float codes of the levels seen in ``fit`` (NaN for any other).

    With ``max_levels`` only the most frequent levels are kept (ties by name). Hash-based
    (:meth:`pandas.Index.get_indexer`): fast where scikit-learn's encoders loop over strings.
    """

    def __init__(self, max_levels: int | None = None) -> None:
        self.max_levels = max_levels

    def fit(self, X: pd.DataFrame, y: Any = None) -> _CategoryCodes:
        """Learn the levels of each column."""
        table = pd.DataFrame(X)
        self.levels_ = []
        for column in table.columns:
            counts = table[column].value_counts(dropna=True)
            ranked = sorted(zip(-counts.to_numpy(), counts.index.astype(str), strict=True))
            kept = [level for _, level in ranked][: self.max_levels]
            self.levels_.append(np.array(sorted(kept), dtype=object))
        self.n_features_in_ = table.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Codes 0 .. levels - 1 as float64, NaN for a level not kept in ``fit``."""
        table = pd.DataFrame(X)
        codes = np.empty(table.shape, dtype="float64")
        for j, column in enumerate(table.columns):
            found = pd.Index(self.levels_[j]).get_indexer(table[column])
            codes[:, j] = np.where(found >= 0, found, np.nan)
        return codes


def _label_array(values: Any, *, where: str) -> np.ndarray:
    """Churn labels as a bool array: True/False, or 1/0; no missing values."""
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    missing = int(series.isna().sum())
    if missing:
        raise DataContractError(
            f"{where}: {missing} missing labels; expected True/False (churned) for every customer"
        )
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(series.dtype):
        numbers = series.to_numpy(dtype="float64")
        if np.isin(numbers, (0.0, 1.0)).all():
            return numbers == 1.0
    raise DataContractError(
        f"{where} is {series.dtype} with values like {series.head(3).tolist()}; "
        "expected booleans (True = churned) or 0/1"
    )


def trainability(
    labels: pd.Series | np.ndarray | Sequence[bool],
    *,
    min_customers: int = DEFAULTS.churn.min_train_customers,
    min_class_count: int = DEFAULTS.churn.min_class_count,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str | None:
    """Whether a churn model can be trained on these labels: None if so, else why not, in words.

    Reads one label per customer (True = churned) and checks, in this order: at least
    ``min_customers`` customers; both classes present; at least ``min_class_count`` churners
    and as many non-churners. The reason reaches the page, so its numbers of customers are
    written by the small-cell rule (``min_cell_size``: "fewer than 10 churners").

    Parameters
    ----------
    labels : array-like of bool
        The ``churned`` column of the training table (True/False or 1/0, no missing values).
    min_customers : int, default ``churn.min_train_customers``
        Fewest labelled customers worth a model.
    min_class_count : int, default ``churn.min_class_count``
        Fewest churners, and fewest non-churners.

    Returns
    -------
    str or None
        None when trainable, else the reason with the numbers.

    Examples
    --------
    >>> print(trainability([True] * 40 + [False] * 360))
    None
    >>> trainability([True] * 12 + [False] * 388)
    'only 12 churners among 400 customers; at least 30 are needed to train a churn model'
    >>> trainability([False] * 400)
    'none of the 400 customers churned (a single class): there is nothing to learn from'
    """
    churned = _label_array(labels, where="labels")
    n, churners = len(churned), int(churned.sum())
    rule = SmallCells(min_cell_size)

    def only(count: int, noun: str) -> str:  # "only 12 churners", "fewer than 10 churners"
        return ("only " if rule.shown(count) else "") + rule.phrase(count, noun)

    needed = "are needed to train a churn model"
    if n < min_customers:
        return f"{only(n, 'customer')} with a label; at least {min_customers:,} {needed}"
    if churners in (0, n):
        who = "none of the" if churners == 0 else "all"
        return f"{who} {rule.phrase(n)} churned (a single class): there is nothing to learn from"
    for count, noun in ((churners, "churner"), (n - churners, "non-churner")):
        if count < min_class_count:
            return (
                f"{only(count, noun)} among {rule.phrase(n)}; at least {min_class_count:,} {needed}"
            )
    return None


def _stratified_pick(
    labels: np.ndarray, n_pick: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of ``n_pick`` rows drawn class by class (class shares kept), and the rest.

    Churners give ``round(churners * n_pick / n)`` rows, non-churners the remainder, each
    kept within 1 .. count - 1 when the class has at least 2 rows, so both parts see both
    classes. Both outputs are sorted.
    """
    n = len(labels)
    takes = {True: int(round(int(labels.sum()) * n_pick / n))}
    takes[False] = n_pick - takes[True]
    picked = []
    for value in (False, True):
        positions = np.flatnonzero(labels == value)
        take = takes[value]
        if len(positions) >= 2:
            take = min(max(take, 1), len(positions) - 1)
        picked.append(rng.permutation(positions)[: max(take, 0)])
    first = np.sort(np.concatenate(picked))
    rest = np.setdiff1d(np.arange(n), first, assume_unique=True)
    return first, rest


def _make_pipeline(
    name: str,
    numeric: tuple[str, ...],
    categorical: tuple[str, ...],
    *,
    class_weight: str | None,
    seed: int,
) -> Pipeline:
    """The unfitted preprocessing + classifier pipeline of model ``name``."""
    if name == "logistic":
        imputer = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
        numeric_steps: Any = make_pipeline(imputer, StandardScaler())
        categorical_steps: Any = make_pipeline(
            _CategoryCodes(), OneHotEncoder(handle_unknown="ignore")
        )
        classifier: Any = LogisticRegression(max_iter=_LOGISTIC_MAX_ITER, class_weight=class_weight)
    else:
        numeric_steps, categorical_steps = "passthrough", _CategoryCodes(max_levels=_MAX_CATEGORIES)
        mask = [False] * len(numeric) + [True] * len(categorical)
        classifier = HistGradientBoostingClassifier(
            max_iter=_BOOSTING_MAX_ITER,
            early_stopping=True,
            validation_fraction=_BOOSTING_VALIDATION_FRACTION,
            n_iter_no_change=_BOOSTING_PATIENCE,
            categorical_features=mask if categorical else None,
            class_weight=class_weight,
            random_state=seed,
        )
    preprocess = ColumnTransformer(
        [
            ("numeric", numeric_steps, list(numeric)),
            ("categorical", categorical_steps, list(categorical)),
        ]
    )
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)])


def _fit_quietly(pipeline: Pipeline, features: pd.DataFrame, labels: np.ndarray) -> list[str]:
    """Fit ``pipeline``; ConvergenceWarnings are logged and returned as notes, others re-issued."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        pipeline.fit(features, labels)
    notes = []
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            note = f"did not converge: {str(warning.message).splitlines()[0]}"
            log.warning("%s %s", type(pipeline[-1]).__name__, note)
            notes.append(note)
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return notes


def fit_churn_models(
    train: pd.DataFrame,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    label_col: str = "churned",
    models: Sequence[str] = tuple(DEFAULTS.churn.models),
    calibration: str = DEFAULTS.churn.calibration,
    calibration_share: float = DEFAULTS.churn.calibration_share,
    class_weight: str | None = None,
    max_train_rows: int = DEFAULTS.churn.max_train_rows,
    seed: int = DEFAULTS.seed,
    min_cell_size: int = MIN_CELL_SIZE,
) -> dict[str, ChurnModel]:
    """Fit calibrated churn classifiers on a labelled churn feature table.

    Reads *train*, one row per customer active at a past cutoff with the features and the
    label ``label_col`` (True = no purchase within the horizon); returns one fitted
    :class:`ChurnModel` per name in ``models``:

    - ``"logistic"``: numeric features median-imputed with missing-value indicators and
      standardized; categoricals one-hot encoded (``handle_unknown="ignore"``: an unseen
      level is all zeros); L2 logistic regression (C = 1, L-BFGS, up to 2,000 iterations; a
      ConvergenceWarning is logged and kept in ``notes``, never silenced).
    - ``"hist_gradient_boosting"``: gradient boosting [3]_ with native categorical support
      (categoricals ordinal-encoded by the levels seen in training, at most the 255 most
      frequent; rarer and unseen levels become missing; missing values handled natively).
      Early stopping is **on**: up to 500 iterations, stopped after 10 without improvement
      of the loss on a seeded, stratified 10% internal split of the fit part.

    Rows: a table bigger than ``max_train_rows`` is subsampled, stratified by the label (said
    in ``notes`` with the numbers; the notes reach the page, so their numbers of customers are
    written by the small-cell rule, ``min_cell_size``). The rows used are split, stratified, into a fit part and
    a calibration part (``calibration_share``). Each classifier is fitted on the fit part,
    frozen (:class:`sklearn.frozen.FrozenEstimator`) and calibrated on the calibration part
    by :class:`sklearn.calibration.CalibratedClassifierCV`: isotonic regression [2]_ or
    Platt's sigmoid [1]_ on the decision function.

    Class imbalance, handled knowingly: by default nothing is reweighted, because the
    product is a calibrated probability and the ranking metrics (ROC AUC, PR AUC, lift) do
    not need balanced classes. ``class_weight="balanced"`` reweights the classes while
    fitting (it can help boosting find splits for a rare class); its raw scores overstate
    churn, and the calibration step maps them back to probabilities.

    Only a technical floor is enforced (20 customers, 5 of each class): call
    :func:`trainability` with the business thresholds first.

    Parameters
    ----------
    train : pd.DataFrame
        Churn feature table with labels, one row per customer.
    numeric, categorical : sequence of str
        Feature columns (float with NaN where undefined; str categories).
    label_col : str, default "churned"
        Bool label column (True = churned); 1/0 is accepted.
    models : sequence of str, default ``churn.models``
        Which models to fit (among :data:`MODEL_NAMES`).
    calibration : {"isotonic", "sigmoid"}, default ``churn.calibration``
        Calibration map fitted on the calibration part.
    calibration_share : float, default ``churn.calibration_share``
        Share of the rows held out for calibration (strictly between 0 and 1).
    class_weight : {None, "balanced"}, default None
        Class weights while fitting the classifiers (see above).
    max_train_rows : int, default ``churn.max_train_rows``
        Largest number of customers used; bigger tables are subsampled (stratified).
    seed : int, default the params file's ``seed`` default
        Seeds the subsample, the fit/calibration split and the boosting model.

    Returns
    -------
    dict of str to ChurnModel
        In the order of ``models``.

    Raises
    ------
    DataContractError
        A feature or the label column is missing or malformed, or the labels are below the
        technical floor (the message says why, see :func:`trainability`).

    References
    ----------
    .. [1] Platt, J. (1999). Probabilistic outputs for support vector machines and
       comparisons to regularized likelihood methods. Advances in Large Margin Classifiers.
    .. [2] Zadrozny, B., & Elkan, C. (2002). Transforming classifier scores into accurate
       multiclass probability estimates. KDD 2002, 694-699.
    .. [3] Ke, G. et al. (2017). LightGBM: a highly efficient gradient boosting decision
       tree. NeurIPS 30 (the algorithm of HistGradientBoostingClassifier).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=2_000)
    >>> train = pd.DataFrame({"recency_days": x, "region": rng.choice(["north", "south"], 2_000),
    ...                       "churned": rng.random(2_000) < 1 / (1 + np.exp(-2 * x))})
    >>> fitted = fit_churn_models(train, numeric=["recency_days"], categorical=["region"])
    >>> list(fitted), fitted["logistic"].train_rows_, fitted["logistic"].calibration_rows_
    (['logistic', 'hist_gradient_boosting'], 1500, 500)
    >>> p_churn = fitted["logistic"].predict_proba(train)  # calibrated: mean near the churn share
    >>> round(float(p_churn.mean()), 2), round(float(train["churned"].mean()), 2)
    (0.48, 0.49)
    """
    numeric_t, categorical_t = _feature_names(numeric, categorical)
    models_t = tuple(models) if not isinstance(models, str) else (models,)
    if not (set(models_t) <= set(MODEL_NAMES) and 0 < len(models_t) == len(set(models_t))):
        raise ValueError(f"models={models!r}: expected distinct names from {list(MODEL_NAMES)}")
    if calibration not in CALIBRATIONS or class_weight not in (None, "balanced"):
        raise ValueError(
            f"calibration={calibration!r}, class_weight={class_weight!r}: expected "
            f"calibration in {list(CALIBRATIONS)} and class_weight None or 'balanced'"
        )
    if not (0.0 < calibration_share < 1.0 and int(max_train_rows) >= _FLOOR_CUSTOMERS):
        raise ValueError(
            f"calibration_share={calibration_share!r}, max_train_rows={max_train_rows!r}: "
            f"expected a share between 0 and 1 and at least {_FLOOR_CUSTOMERS} rows"
        )

    table_name = "churn features"
    require_columns(train, [label_col, *numeric_t, *categorical_t], table_name=table_name)
    labels = _label_array(train[label_col], where=f"{table_name}: column '{label_col}'")
    rule = SmallCells(min_cell_size)
    reason = trainability(
        labels, min_customers=_FLOOR_CUSTOMERS, min_class_count=_FLOOR_CLASS_COUNT,
        min_cell_size=min_cell_size,
    )  # fmt: skip
    if reason:
        raise DataContractError(f"{table_name}: cannot train a churn model: {reason}")

    rng = np.random.default_rng(seed)
    n_total = len(labels)
    notes: list[str] = []
    rows = np.arange(n_total)
    if n_total > max_train_rows:
        rows, _ = _stratified_pick(labels, int(max_train_rows), rng)
        notes.append(
            f"trained on a stratified random subsample of {rule.phrase(len(rows))} (of "
            f"{rule.phrase(n_total)}; churn share {labels[rows].mean():.1%}, as in the full table "
            f"{labels.mean():.1%})"
        )
        log.info("churn models: %s", notes[-1])
    features = _feature_frame(train.iloc[rows], numeric_t, categorical_t, table_name=table_name)
    y = labels[rows]
    calibrate_at, fit_at = _stratified_pick(y, int(round(len(y) * calibration_share)), rng)
    notes.append(
        f"{rule.phrase(len(fit_at))} to fit, {rule.phrase(len(calibrate_at))} held out to "
        f"calibrate ({calibration}); split stratified by the label"
    )
    if class_weight == "balanced":
        notes.append(
            "classes reweighted to balance while fitting (class_weight='balanced'); "
            "calibration maps the scores back to probabilities"
        )
    fit_features = features.iloc[fit_at].reset_index(drop=True)
    calibration_features = features.iloc[calibrate_at].reset_index(drop=True)

    fitted: dict[str, ChurnModel] = {}
    for name in models_t:
        pipeline = _make_pipeline(
            name, numeric_t, categorical_t, class_weight=class_weight, seed=seed
        )
        with threadpool_limits(limits=_threads(len(fit_at)), user_api="openmp"):
            model_notes = [*notes, *_fit_quietly(pipeline, fit_features, y[fit_at])]
            calibrator = CalibratedClassifierCV(FrozenEstimator(pipeline), method=calibration, cv=2)
            calibrator.fit(calibration_features, y[calibrate_at])
        if name == "hist_gradient_boosting":
            model_notes.append(
                f"early stopping on a seeded {_BOOSTING_VALIDATION_FRACTION:.0%} internal "
                f"validation split: {pipeline[-1].n_iter_} of at most {_BOOSTING_MAX_ITER} "
                "boosting iterations"
            )
        fitted[name] = ChurnModel(
            name, pipeline, calibrator, numeric_t, categorical_t, train_rows_=len(fit_at),
            calibration_rows_=len(calibrate_at), base_rate_=float(y.mean()),
            calibration_=calibration, notes=tuple(model_notes),
        )  # fmt: skip
        log.info("churn model %s: %s", name, "; ".join(model_notes))
    return fitted


def model_comparison(
    models: Mapping[str, FittedChurnModel],
    validation: pd.DataFrame,
    *,
    label_col: str = "churned",
    scores: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Score each model on the same labelled validation table (scikit-learn metrics).

    ``scores``: the models' P(churn) on ``validation`` when already computed (by key); a
    model without one is scored here.

    Reads *validation* (one row per customer with the features and ``label_col``, typically
    a later cutoff than training) and returns one row per model: *model* (the key in
    ``models``), *log_loss*, *brier* (mean squared error of the probability), *roc_auc*,
    *pr_auc* (average precision), *n* (customers) and *churn_rate* (observed), sorted by
    log loss, best first. ROC AUC and PR AUC are NaN when the validation table has a single
    class.

    Examples
    --------
    >>> class Constant:
    ...     name, numeric_, categorical_ = "constant", ("x",), ()
    ...     def predict_proba(self, frame):
    ...         return np.full(len(frame), 0.25)
    >>> validation = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "churned": [True, False, False, False]})
    >>> model_comparison({"constant": Constant()}, validation)[["model", "brier", "n", "churn_rate"]]
          model   brier  n  churn_rate
    0  constant  0.1875  4        0.25
    """
    if not models:
        raise ValueError("models is empty: expected at least one fitted churn model")
    require_columns(validation, [label_col], table_name="validation")
    y = _label_array(validation[label_col], where=f"validation: column '{label_col}'").astype(int)
    if len(y) == 0:
        raise DataContractError("validation: no rows; expected labelled customers to score")
    both_classes = 0 < y.sum() < len(y)
    if not both_classes:
        log.warning("validation has a single class: ROC AUC and PR AUC are undefined (NaN)")
    rows = []
    for key, model in models.items():
        known = None if scores is None else scores.get(key)
        proba = np.asarray(
            model.predict_proba(validation) if known is None else known, dtype="float64"
        )
        if len(proba) != len(y):
            raise ValueError(
                f"scores[{key!r}] has {len(proba)} values for {len(y)} validation rows"
            )
        rows.append(
            {
                "model": str(key),
                "log_loss": float(log_loss(y, proba, labels=[0, 1])),
                "brier": float(brier_score_loss(y, proba, pos_label=1)),
                "roc_auc": float(roc_auc_score(y, proba)) if both_classes else np.nan,
                "pr_auc": float(average_precision_score(y, proba)) if both_classes else np.nan,
                "n": len(y),
                "churn_rate": float(y.mean()),
            }
        )
    comparison = pd.DataFrame(rows).astype({"model": "str", "n": "int64"})
    return comparison.sort_values("log_loss", kind="stable").reset_index(drop=True)


def choose_model(comparison: pd.DataFrame) -> str:
    """The model with the lowest log loss in a :func:`model_comparison` table (first on ties).

    Examples
    --------
    >>> choose_model(pd.DataFrame({"model": ["a", "b"], "log_loss": [0.52, 0.48]}))
    'b'
    """
    require_columns(comparison, ["model", "log_loss"], table_name="model comparison")
    scored = comparison.dropna(subset=["log_loss"])
    if scored.empty:
        raise DataContractError(
            "model comparison: no model with a log loss; expected at least one scored model"
        )
    return str(scored.sort_values("log_loss", kind="stable")["model"].iloc[0])


@dataclass(frozen=True)
class ChurnTraining:
    """Fitted candidates, their validation comparison, the chosen scorer and the rule baseline.

    ``chosen`` is a calibrated :class:`ChurnModel`, or, when no model can be
    trained (``fallback`` says why), the recency rule (a probability) or the recency rank.
    ``validation_scores``: each compared model's P(churn) on ``validation``, the table the
    comparison scored (the same frame object; later steps reuse the scores for it only).
    ``sample``: the training customers the models were fitted on
    (:func:`crmlib.sampling.fit_sample`; None when not recorded).
    """

    models: dict[str, ChurnModel]
    comparison: pd.DataFrame
    chosen_name: str
    chosen: Any
    rule: Any
    fallback: str | None
    notes: tuple[str, ...]
    validation: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    validation_scores: Mapping[str, np.ndarray] = field(
        default_factory=dict, repr=False, compare=False
    )
    sample: RowSample | None = field(default=None, repr=False, compare=False)

    def scores_on(self, frame: pd.DataFrame) -> np.ndarray:
        """``chosen``'s P(churn) on ``frame``: the comparison's scores when it is the frame
        compared (a model scores 700,000 customers in about two seconds), else scored now."""
        if frame is self.validation and self.chosen_name in self.validation_scores:
            return self.validation_scores[self.chosen_name]
        return np.asarray(self.chosen.predict_proba(frame), dtype="float64")

    @property
    def is_probability(self) -> bool:
        """Whether ``chosen`` returns calibrated probabilities (not the recency rank)."""
        return not isinstance(self.chosen, RecencyRank)
