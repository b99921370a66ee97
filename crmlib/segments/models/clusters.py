"""Behavioural clusters: k-means on standardized, log-transformed behaviour, named and stability-checked.

The behaviour features come from :func:`crmlib.segments.queries.clusters.behaviour_features`;
:func:`shown_profiles` pools the clusters too small to report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score, pairwise_distances, silhouette_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from crmlib.checks import require_columns
from crmlib.config import DEFAULTS
from crmlib.errors import DataContractError
from crmlib.privacy import MIN_CELL_SIZE, OTHER, SmallCells
from crmlib.sampling import RowSample, fit_sample

__all__ = [
    "BEHAVIOUR_FEATURES",
    "LOG_FEATURES",
    "MIN_CUSTOMERS",
    "NAME_THRESHOLD",
    "ClusterResult",
    "ClusteringNotPossible",
    "prepare_features",
    "cluster_customers",
    "cluster_labels",
    "name_clusters",
    "shown_profiles",
]

log = logging.getLogger(__name__)


class ClusteringNotPossible(ValueError):
    """The data cannot be clustered: too few customers, or no feature varies between them."""


#: Feature columns of :func:`behaviour_features`, in this order.
BEHAVIOUR_FEATURES: tuple[str, ...] = (
    "recency_days", "frequency", "monetary", "tenure_days", "category_diversity", "engagement",
)  # fmt: skip


#: Features that enter the clustering as ``log1p`` (counts, days and money); engagement, a
#: ratio, enters as it is.
LOG_FEATURES: tuple[str, ...] = (
    "recency_days", "frequency", "monetary", "tenure_days", "category_diversity",
)  # fmt: skip


#: Fewest customers :func:`cluster_customers` accepts (and always more than the largest k).
MIN_CUSTOMERS = 50


#: A centroid z-score at or beyond +/- this many standard deviations counts as high / low when
#: naming clusters (:func:`name_clusters`).
NAME_THRESHOLD = 0.5


_SEED_MAX = 2**31 - 1


#: Most mini-batch steps of the final MiniBatchKMeans fit (see ``_final_fit``).
_MAX_STEPS = 64


def _feature_values(features: pd.DataFrame) -> np.ndarray:
    """The raw feature columns as a float matrix (customers x :data:`BEHAVIOUR_FEATURES`), checked."""
    require_columns(features, ["customer_id", *BEHAVIOUR_FEATURES], table_name="features")
    raw = np.empty((len(features), len(BEHAVIOUR_FEATURES)), dtype="float64")
    for j, column in enumerate(BEHAVIOUR_FEATURES):
        try:
            raw[:, j] = features[column].to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise DataContractError(
                f"features: column '{column}' is {features[column].dtype}, expected numbers"
            ) from exc
        bad = ~np.isfinite(raw[:, j])
        if bad.any():
            raise DataContractError(
                f"features: column '{column}' has {int(bad.sum())} missing or non-finite "
                "values; expected a finite number for every customer"
            )
        negative = int((raw[:, j] < 0).sum()) if column != "monetary" else 0
        if negative:
            raise DataContractError(
                f"features: column '{column}' has {negative} negative values; "
                "expected counts, days and ratios >= 0"
            )
    return raw


def prepare_features(features: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """The clustering matrix: log-transformed, standardized behaviour, one row per customer.

    Transforms *features* (one row per customer with :data:`BEHAVIOUR_FEATURES`, as from
    :func:`behaviour_features`) into a float matrix with one row per customer (same order) and
    one column per feature used:

    - :data:`LOG_FEATURES` (recency, frequency, monetary, tenure, category diversity) become
      ``log1p(x)``; monetary is clipped at 0 first, so a customer whose refunds exceed their
      purchases in the window counts as having spent nothing (log1p of a negative amount is
      undefined below -1 and meaningless above it);
    - engagement (a ratio) is used as it is;
    - every column is then standardized (``StandardScaler``: mean 0, population variance 1).

    A column that is constant over all customers (e.g. engagement without an events table)
    carries no information: it is dropped with a warning.

    Parameters
    ----------
    features : pd.DataFrame
        One row per customer.

    Returns
    -------
    matrix : np.ndarray
        Shape (customers, columns used), float64.
    columns : list of str
        The feature names of the matrix columns, in order (a subset of
        :data:`BEHAVIOUR_FEATURES` in that order).

    Raises
    ------
    DataContractError
        A feature column is missing, has missing / non-finite values, or negative values
        (other than monetary).
    ValueError
        Every feature is constant: nothing to cluster on.

    Examples
    --------
    >>> toy = pd.DataFrame({"customer_id": ["a", "b", "c"], "recency_days": [1, 10, 100],
    ...     "frequency": [5, 2, 1], "monetary": [90.0, -5.0, 20.0], "tenure_days": [400, 50, 100],
    ...     "category_diversity": [3, 1, 1], "engagement": [0.0, 0.0, 0.0]})
    >>> matrix, columns = prepare_features(toy)
    >>> columns
    ['recency_days', 'frequency', 'monetary', 'tenure_days', 'category_diversity']
    >>> matrix.mean(axis=0).round(12).tolist(), matrix.std(axis=0).round(12).tolist()
    ([0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0])
    """
    raw = _feature_values(features)
    for j, feature in enumerate(BEHAVIOUR_FEATURES):
        if feature == "monetary":
            np.clip(raw[:, j], 0.0, None, out=raw[:, j])
        if feature in LOG_FEATURES:
            np.log1p(raw[:, j], out=raw[:, j])
    constant = np.ptp(raw, axis=0) == 0 if len(raw) else np.ones(raw.shape[1], dtype=bool)
    if constant.all():
        raise ClusteringNotPossible(
            f"features: every behaviour feature is constant over the {len(features)} customers; "
            "there is nothing to cluster on"
        )
    if constant.any():
        dropped = [f for f, c in zip(BEHAVIOUR_FEATURES, constant, strict=True) if c]
        log.warning("features %s are constant over all customers and are left out", dropped)
    kept = [f for f, c in zip(BEHAVIOUR_FEATURES, constant, strict=True) if not c]
    matrix = StandardScaler(copy=False).fit_transform(
        raw if not constant.any() else raw[:, ~constant]
    )
    return np.ascontiguousarray(matrix, dtype="float64"), kept


@dataclass(frozen=True)
class ClusterResult:
    """Behavioural clusters of one run of :func:`cluster_customers`.

    Attributes
    ----------
    k : int
        Number of clusters.
    labels : pd.DataFrame
        One row per customer, in the input's order: *customer_id, cluster* (0..k-1, 0 the
        largest cluster), *cluster_name*.
    profiles : pd.DataFrame
        One row per cluster, largest first: *cluster, cluster_name, customers, share*, the mean
        of each raw feature of :data:`BEHAVIOUR_FEATURES`, and ``z_<feature>``, the centroid on
        the standardized log scale (0 for a feature left out as constant).
    silhouette : pd.DataFrame
        One row per k tried: *k, silhouette* (on a seeded sample).
    stability_ari_mean, stability_ari_p05 : float
        Mean and 5th percentile of the adjusted Rand index between bootstrap refits and the
        final model on the same sampled customers.
    stable : bool
        ``stability_ari_mean >= stability_threshold``.
    algorithm : str
        ``"KMeans"`` or ``"MiniBatchKMeans"`` (the final fit).
    n_bootstrap : int
        Bootstrap resamples behind the stability figures.
    stability_threshold : float
        The mean ARI a stable clustering reaches.
    feature_columns : tuple of str
        Features the clusters were fitted on (constant ones are left out).
    sample : RowSample or None
        The customers (in customer_id order) the final model was fitted on
        (:func:`crmlib.sampling.fit_sample`): all of them unless ``driver_max_rows`` left
        some out; every customer is labelled either way.
    """

    k: int
    labels: pd.DataFrame
    profiles: pd.DataFrame
    silhouette: pd.DataFrame
    stability_ari_mean: float
    stability_ari_p05: float
    stable: bool
    algorithm: str
    n_bootstrap: int
    stability_threshold: float
    feature_columns: tuple[str, ...]
    sample: RowSample | None = field(default=None, repr=False, compare=False)

    @property
    def n_customers(self) -> int:
        """Customers clustered."""
        return len(self.labels)

    @property
    def chosen_silhouette(self) -> float:
        """Silhouette of the chosen k."""
        rows = self.silhouette.loc[self.silhouette["k"] == self.k, "silhouette"]
        return float(rows.iloc[0]) if len(rows) else float("nan")


def name_clusters(profiles: pd.DataFrame, *, threshold: float = NAME_THRESHOLD) -> list[str]:
    """A name for each cluster from its centroid z-scores (one per row of ``profiles``).

    Reads the ``z_<feature>`` columns (centroid on the standardized log scale; a missing one
    counts as 0) and applies the first rule that holds, with t = ``threshold``:

    1. ``z_recency_days >= t``: **"Lapsed"** (last purchase long ago), or **"Lapsed but
       engaged"** when also ``z_engagement >= t`` (still opening and clicking);
    2. ``z_tenure_days <= -t``: **"New"** (first purchase recently);
    3. ``z_frequency >= t`` and ``z_monetary >= t``: **"High-value regulars"**;
    4. ``z_monetary >= t``: **"Big spenders"**;
    5. ``z_frequency >= t``: **"Frequent buyers"**;
    6. ``z_engagement >= t``: **"Engaged browsers"** when ``z_frequency < 0`` (open and click,
       buy less than average), else **"Engaged buyers"**;
    7. ``z_category_diversity >= t``: **"Explorers"**;
    8. otherwise **"Occasional"**.

    A cluster named by rules 2-5, 7 or 8 that also has ``z_engagement >= t`` gets
    **" (engaged)"** appended ("High-value regulars (engaged)"): the messaging-responsive
    part of a group is worth telling apart. Names are unique: when several clusters get the same name, the second (in row order) gets
    " 2" appended, the third " 3", and so on.

    Examples
    --------
    >>> z = pd.DataFrame({"z_recency_days": [-0.8, 1.2, 0.0, 0.1],
    ...     "z_frequency": [1.0, -1.0, -0.2, 0.0], "z_monetary": [0.9, -0.9, 0.1, 0.0]})
    >>> name_clusters(z)
    ['High-value regulars', 'Lapsed', 'Occasional', 'Occasional 2']
    >>> name_clusters(z.assign(z_engagement=[1.5, 0.0, 0.0, 1.5]))
    ['High-value regulars (engaged)', 'Lapsed', 'Occasional', 'Engaged buyers']
    """

    def z(row: pd.Series, feature: str) -> float:
        value = row.get(f"z_{feature}", 0.0)
        return 0.0 if pd.isna(value) else float(value)

    names: list[str] = []
    seen: dict[str, int] = {}
    for _, row in profiles.iterrows():
        engaged = z(row, "engagement") >= threshold
        if z(row, "recency_days") >= threshold:
            name = "Lapsed but engaged" if engaged else "Lapsed"
        elif z(row, "tenure_days") <= -threshold:
            name = "New"
        elif z(row, "frequency") >= threshold and z(row, "monetary") >= threshold:
            name = "High-value regulars"
        elif z(row, "monetary") >= threshold:
            name = "Big spenders"
        elif z(row, "frequency") >= threshold:
            name = "Frequent buyers"
        elif engaged:
            name = "Engaged browsers" if z(row, "frequency") < 0 else "Engaged buyers"
        elif z(row, "category_diversity") >= threshold:
            name = "Explorers"
        else:
            name = "Occasional"
        if engaged and "ngaged" not in name:
            name = f"{name} (engaged)"
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} {seen[name]}")
    return names


def _check_options(
    k_range: tuple[int, int],
    *,
    sample_size: int,
    silhouette_sample: int,
    n_bootstrap: int,
    n_init: int,
    threads: int,
) -> tuple[int, int]:
    if len(k_range) != 2:
        raise ValueError(f"k_range={k_range!r}: expected (smallest k, largest k)")
    k_min, k_max = int(k_range[0]), int(k_range[1])
    if not 2 <= k_min <= k_max:
        raise ValueError(f"k_range={k_range!r}: expected 2 <= smallest k <= largest k")
    for name, value, least in (
        ("sample_size", sample_size, MIN_CUSTOMERS),
        ("silhouette_sample", silhouette_sample, MIN_CUSTOMERS),
        ("n_bootstrap", n_bootstrap, 1),
        ("n_init", n_init, 1),
        ("threads", threads, 1),
    ):
        if int(value) < least:
            raise ValueError(f"{name}={value!r}: expected at least {least}")
    return k_min, k_max


def _kmeans(k: int, *, n_init: int, seed: int) -> KMeans:
    return KMeans(n_clusters=k, init="k-means++", n_init=n_init, max_iter=100, random_state=seed)


def _canonical_order(customer_ids: pd.Series) -> np.ndarray | None:
    """Row positions in customer_id order (None: already in order); fails on a repeated id.

    Ids compare as UTF-8 bytes. Strictly increasing ids (as :func:`behaviour_features`
    returns them) need no sort and cannot repeat.
    """
    ids = pa.array(customer_ids.astype("str"), type=pa.large_string())
    if ids.null_count:
        raise DataContractError(
            f"features: column 'customer_id' has {ids.null_count} missing values; "
            "expected an id on every row"
        )
    if len(ids) < 2 or pc.all(pc.less(ids[:-1], ids[1:])).as_py():
        return None
    order = pc.sort_indices(ids).to_numpy()
    ordered = ids.take(order)
    repeated = int(pc.sum(pc.equal(ordered[1:], ordered[:-1])).as_py() or 0)
    if repeated:
        raise DataContractError(
            f"features: {repeated} customer_id values appear more than once; "
            "expected one row per customer"
        )
    return np.asarray(order, dtype="int64")


def _choose_k(
    sample: np.ndarray,
    ks: range,
    *,
    silhouette_sample: int,
    n_init: int,
    seed: int,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, dict[int, np.ndarray]]:
    """Silhouette of k-means on ``sample`` for each k, on the same seeded rows for every k.

    The distances between those rows are computed once (float32) and passed to
    ``silhouette_score(metric="precomputed")`` for each k.
    """
    rows = (
        np.sort(rng.choice(len(sample), size=silhouette_sample, replace=False))
        if silhouette_sample < len(sample)
        else np.arange(len(sample))
    )
    distances = pairwise_distances(sample[rows].astype("float32"))
    scores, centers = [], {}
    for k in ks:
        model = _kmeans(k, n_init=n_init, seed=seed).fit(sample)
        labels = model.labels_[rows]
        found = len(np.unique(labels))
        scores.append(
            float(silhouette_score(distances, labels, metric="precomputed"))
            if 2 <= found < len(rows)
            else float("nan")
        )
        centers[k] = model.cluster_centers_
    del distances
    table = pd.DataFrame({"k": list(ks), "silhouette": scores}).astype(
        {"k": "int64", "silhouette": "float64"}
    )
    if table["silhouette"].isna().all():
        raise ValueError(
            "features: k-means found a single cluster for every k: the customers' behaviour "
            "is (nearly) identical"
        )
    return table, centers


def _final_fit(
    matrix: np.ndarray,
    init: np.ndarray,
    *,
    minibatch_above: int,
    batch_size: int,
    seed: int,
    fitted: np.ndarray,
) -> tuple[np.ndarray, str]:
    """Labels of every customer, starting from the sample's centres (one run, ``n_init=1``).

    The model is fitted on ``fitted``: ``matrix`` itself, or the rows of it that
    ``driver_max_rows`` sampled, and every customer then gets its nearest centre.

    MiniBatchKMeans draws each batch in O(customers) time, so its steps are capped at about
    :data:`_MAX_STEPS`: the batch grows with the data (never below ``batch_size``) and the
    passes over the data (``max_iter``) shrink, early stopping ending it sooner.
    """
    k, n = len(init), len(fitted)
    model: KMeans | MiniBatchKMeans
    if n <= minibatch_above:
        model = KMeans(n_clusters=k, init=init, n_init=1, max_iter=100, random_state=seed)
    else:
        batch = max(int(batch_size), -(-n // _MAX_STEPS))
        model = MiniBatchKMeans(
            n_clusters=k,
            init=init,
            n_init=1,
            batch_size=batch,
            max_iter=max(1, _MAX_STEPS * batch // n),
            max_no_improvement=10,
            reassignment_ratio=0.01,
            random_state=seed,
        )
    algorithm = type(model).__name__
    if fitted is matrix:
        return model.fit_predict(matrix), algorithm
    return model.fit(fitted).predict(matrix), algorithm


def _stability(
    sample: np.ndarray,
    sample_labels: np.ndarray,
    k: int,
    *,
    n_bootstrap: int,
    n_init: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """ARI between refits on bootstrap resamples of ``sample`` and the final labels of ``sample``."""
    aris = np.empty(n_bootstrap, dtype="float64")
    for b in range(n_bootstrap):
        rows = rng.integers(0, len(sample), size=len(sample))
        seed = int(rng.integers(0, _SEED_MAX))
        model = _kmeans(k, n_init=n_init, seed=seed).fit(sample[rows])
        aris[b] = adjusted_rand_score(sample_labels, model.predict(sample))
    return aris


def _relabel(labels: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cluster numbers by size (0 the largest; ties by centroid), dropping empty clusters.

    Returns the new labels and the new-number -> old-number map.
    """
    n_old = int(labels.max()) + 1
    sizes = np.bincount(labels, minlength=n_old)
    present = np.flatnonzero(sizes)
    sums = np.column_stack(
        [np.bincount(labels, weights=matrix[:, j], minlength=n_old) for j in range(matrix.shape[1])]
    )
    centroids = sums[present] / sizes[present, None]
    order = np.lexsort((*centroids.T[::-1], -sizes[present]))
    old_of_new = present[order]
    new_of_old = np.full(n_old, -1, dtype="int64")
    new_of_old[old_of_new] = np.arange(len(old_of_new))
    return new_of_old[labels], old_of_new


def _profiles(
    features: pd.DataFrame,
    matrix: np.ndarray,
    columns: list[str],
    labels: np.ndarray,
    k: int,
) -> pd.DataFrame:
    sizes = np.bincount(labels, minlength=k)
    profile: dict[str, object] = {
        "cluster": np.arange(k, dtype="int64"),
        "customers": sizes.astype("int64"),
        "share": sizes / sizes.sum(),
    }
    for feature in BEHAVIOUR_FEATURES:
        values = features[feature].to_numpy(dtype="float64")
        profile[feature] = np.bincount(labels, weights=values, minlength=k) / sizes
    for feature in BEHAVIOUR_FEATURES:
        if feature in columns:
            column = matrix[:, columns.index(feature)]
            profile[f"z_{feature}"] = np.bincount(labels, weights=column, minlength=k) / sizes
        else:
            profile[f"z_{feature}"] = np.zeros(k)
    table = pd.DataFrame(profile)
    table.insert(1, "cluster_name", pd.array(name_clusters(table), dtype="str"))
    return table


def cluster_customers(
    features: pd.DataFrame,
    *,
    k_range: tuple[int, int] = DEFAULTS.segments.cluster_k_range,
    sample_size: int = 20_000,
    silhouette_sample: int = 5_000,
    n_bootstrap: int = DEFAULTS.segments.cluster_bootstrap,
    minibatch_above: int = 200_000,
    stability_threshold: float = 0.8,
    n_init: int = 3,
    batch_size: int = 16_384,
    threads: int = 1,
    seed: int = DEFAULTS.seed,
    driver_max_rows: int | None = None,
) -> ClusterResult:
    """Behavioural clusters: k-means with k chosen by silhouette, named, stability-checked.

    Transforms *features* (one row per customer: customer_id and :data:`BEHAVIOUR_FEATURES`,
    as from :func:`behaviour_features`) into a :class:`ClusterResult`: a cluster and its name
    per customer, one profile row per cluster, the silhouette of every k tried, and the
    bootstrap stability.

    Steps (all randomness from ``np.random.default_rng(seed)``):

    1. :func:`prepare_features`: log1p of counts, days and money, standardized.
    2. Rows are put in customer_id order first, so the result depends on the set of customers,
       never on the row order of ``features``.
    3. A sample of ``sample_size`` customers (all when fewer; at most ``driver_max_rows``) is
       drawn (:func:`crmlib.sampling.fit_sample`, seeded with ``seed``). For each k in
       ``k_range`` (inclusive), k-means (k-means++, ``n_init`` starts) is fitted on it and its
       silhouette computed on ``silhouette_sample`` of its rows (the same rows for every k).
       The k with the highest silhouette wins (the smallest on a tie).
    4. The final model is fitted on every customer (with more than ``driver_max_rows``, on a
       random sample of that many, :func:`crmlib.sampling.fit_sample`, and every customer is
       then given the nearest centre), starting from the sample model's centres
       (``n_init=1``: the restarts were spent on the sample): ``KMeans`` up to
       ``minibatch_above`` customers (at most 100 Lloyd iterations), ``MiniBatchKMeans`` above
       (at most about 64 mini-batch steps of at least ``batch_size`` customers, early
       stopping after 10 steps without improvement).
    5. Stability: ``n_bootstrap`` times, k-means with the chosen k (fresh k-means++ starts) is
       refitted on a bootstrap resample (with replacement) of the sample; its labels of the
       sample's customers are compared with the final model's by the adjusted Rand index
       (1 = same partition, 0 = chance). The clusters are ``stable`` when the mean ARI is at
       least ``stability_threshold``.
    6. Clusters are numbered by size (0 the largest) and named by :func:`name_clusters`. A
       cluster left empty by the final fit (possible with many identical customers) is
       dropped, so ``k`` is the number of non-empty clusters.

    Parameters
    ----------
    features : pd.DataFrame
        One row per customer.
    k_range : (int, int), default ``segments.cluster_k_range``
        Smallest and largest k tried, inclusive; 2 <= smallest.
    sample_size : int, default 20_000
        Customers in the sample that chooses k and measures stability.
    silhouette_sample : int, default 5_000
        Rows of that sample the silhouette is computed on (it costs O(rows²)).
    n_bootstrap : int, default ``segments.cluster_bootstrap``
        Bootstrap refits for the stability figures.
    minibatch_above : int, default 200_000
        Above this many customers the final fit is MiniBatchKMeans.
    stability_threshold : float, default 0.8
        Mean ARI at or above which the clusters count as stable.
    n_init : int, default 3
        k-means++ starts of each fit on the sample.
    batch_size : int, default 16_384
        Smallest mini-batch of MiniBatchKMeans; larger when the customers exceed 64 batches
        (scikit-learn draws each batch in time proportional to the customers, so the number
        of steps, not the batch, is what must stay small).
    threads : int, default 1
        OpenMP / BLAS threads scikit-learn may use here (threadpoolctl, restored on return).
        One is the fastest measured on 2 cores: the fits are many short passes over small
        matrices, where thread synchronisation costs more than it gains, and 10-30x more
        when other work competes for the cores.
    seed : int, default the params file's ``seed`` default
    driver_max_rows : int or None, default None
        The run's ``engine.driver_max_rows``: most customers any fit here uses (the final
        fit and the sample of step 3); None: no limit. ``ClusterResult.sample`` says which
        customers the final fit used.

    Returns
    -------
    ClusterResult

    Raises
    ------
    DataContractError
        A column is missing (named), a feature has missing, non-finite or negative values, or
        a customer_id appears twice.
    ValueError
        Fewer than ``max(MIN_CUSTOMERS, largest k + 1)`` customers (clustering is not tried:
        a notebook should check the count first and skip the section), bad options, or every
        feature constant.

    References
    ----------
    .. [1] Lloyd, S. (1982). Least squares quantization in PCM. IEEE Trans. Inf. Theory 28(2).
    .. [2] Arthur, D. & Vassilvitskii, S. (2007). k-means++: the advantages of careful seeding.
       SODA 2007, 1027-1035.
    .. [3] Sculley, D. (2010). Web-scale k-means clustering. WWW 2010, 1177-1178.
    .. [4] Rousseeuw, P. J. (1987). Silhouettes: a graphical aid to the interpretation and
       validation of cluster analysis. J. Comput. Appl. Math. 20, 53-65.
    .. [5] Hubert, L. & Arabie, P. (1985). Comparing partitions. J. Classif. 2, 193-218.
    .. [6] Hennig, C. (2007). Cluster-wise assessment of cluster stability. Comput. Stat.
       Data Anal. 52(1), 258-271.
    """
    k_min, k_max = _check_options(
        k_range,
        sample_size=sample_size,
        silhouette_sample=silhouette_sample,
        n_bootstrap=n_bootstrap,
        n_init=n_init,
        threads=threads,
    )
    require_columns(features, ["customer_id", *BEHAVIOUR_FEATURES], table_name="features")
    needed = max(MIN_CUSTOMERS, k_max + 1)
    if len(features) < needed:
        raise ClusteringNotPossible(
            f"features: {len(features)} customers; clustering needs at least {needed} "
            f"(MIN_CUSTOMERS={MIN_CUSTOMERS} and more than the largest k={k_max})"
        )
    matrix, columns = prepare_features(features)
    # canonical order: customer_id, so the row order of ``features`` cannot change the result
    order = _canonical_order(features["customer_id"])
    ordered = matrix if order is None else matrix[order]
    with threadpool_limits(limits=int(threads)):
        rng = np.random.default_rng(seed)
        fit_seed = int(rng.integers(0, _SEED_MAX))
        n = len(ordered)
        sample_limit = int(sample_size)
        if driver_max_rows is not None:
            sample_limit = min(sample_limit, int(driver_max_rows))
        sample, chosen = fit_sample(ordered, sample_limit, seed=seed)
        fitted, fitted_on_rows = fit_sample(ordered, driver_max_rows, seed=seed)
        silhouettes, centers = _choose_k(
            sample,
            range(k_min, k_max + 1),
            silhouette_sample=int(silhouette_sample),
            n_init=int(n_init),
            seed=fit_seed,
            rng=rng,
        )
        best_k = int(silhouettes["k"].iloc[int(np.nanargmax(silhouettes["silhouette"].to_numpy()))])
        labels_ordered, algorithm = _final_fit(
            ordered,
            centers[best_k],
            minibatch_above=int(minibatch_above),
            batch_size=int(batch_size),
            seed=fit_seed,
            fitted=fitted,
        )
        aris = _stability(
            sample,
            labels_ordered[chosen.positions],
            best_k,
            n_bootstrap=int(n_bootstrap),
            n_init=int(n_init),
            rng=rng,
        )
    labels_ordered, _ = _relabel(np.asarray(labels_ordered, dtype="int64"), ordered)
    if order is None:
        labels = labels_ordered
    else:
        labels = np.empty(n, dtype="int64")
        labels[order] = labels_ordered
    k = int(labels.max()) + 1
    profiles = _profiles(features, matrix, columns, labels, k)
    names = pa.array(list(profiles["cluster_name"]), type=pa.large_string()).take(pa.array(labels))
    assignment = pd.DataFrame(
        {
            "customer_id": features["customer_id"].astype("str").array,
            "cluster": labels,
            "cluster_name": pd.array(names, dtype="str"),
        }
    )
    mean_ari, p05_ari = float(aris.mean()), float(np.percentile(aris, 5))
    result = ClusterResult(
        k=k,
        labels=assignment,
        profiles=profiles,
        silhouette=silhouettes,
        stability_ari_mean=mean_ari,
        stability_ari_p05=p05_ari,
        stable=bool(mean_ari >= stability_threshold),
        algorithm=algorithm,
        n_bootstrap=int(n_bootstrap),
        stability_threshold=float(stability_threshold),
        feature_columns=tuple(columns),
        sample=fitted_on_rows,
    )
    log.info(
        "%d customers in %d clusters (%s, silhouette %.2f, mean bootstrap ARI %.2f)",
        n,
        k,
        algorithm,
        result.chosen_silhouette,
        mean_ari,
    )
    return result


def cluster_labels(result: ClusterResult | None) -> pd.DataFrame:
    """Each customer's cluster (``result.labels``); no rows when no clusters were fitted."""
    if result is not None:
        return result.labels
    return pd.DataFrame(
        {
            "customer_id": pd.Series([], dtype="str"),
            "cluster": pd.Series([], dtype="int64"),
            "cluster_name": pd.Series([], dtype="str"),
        }
    )


def shown_profiles(profiles: pd.DataFrame, *, min_cell_size: int = MIN_CELL_SIZE) -> pd.DataFrame:
    """The cluster profiles a report may show: small clusters pooled into ``"(other)"``.

    Transforms *profiles* (:attr:`ClusterResult.profiles`: one row per cluster, largest
    first) into the same columns plus *groups* (clusters in the row) and *pooled* (the names
    of the clusters an ``"(other)"`` row holds, else ""): clusters of fewer than
    ``min_cell_size`` customers are pooled into one ``"(other)"`` row, placed last, of at
    least ``min_cell_size`` customers and two clusters
    (:meth:`crmlib.privacy.SmallCells.pool`). Its share adds up, and its feature means and
    z-scores are the customer-weighted means of the pooled clusters, i.e. the means over
    their customers; its *cluster* number is missing.

    Examples
    --------
    >>> profiles = pd.DataFrame({"cluster": [0, 1, 2], "cluster_name": ["A", "B", "C"],
    ...     "customers": [90, 6, 4], "share": [0.9, 0.06, 0.04], "frequency": [1.0, 2.0, 7.0]})
    >>> table = shown_profiles(profiles)
    >>> table[["cluster_name", "customers", "share", "frequency"]]
      cluster_name  customers  share  frequency
    0            A         90    0.9        1.0
    1      (other)         10    0.1        4.0
    >>> table["pooled"].tolist()
    ['', 'B, C']
    """
    rule = SmallCells(min_cell_size)
    means = [
        column
        for column in profiles.columns
        if column not in ("cluster", "cluster_name", "customers", "share")
    ]
    sizes = profiles["customers"].astype("float64")
    totals = profiles.assign(**{column: profiles[column] * sizes for column in means})
    pooled = rule.pooled_groups(totals.set_index(totals["cluster_name"].astype("str"))["customers"])
    table = rule.pool(totals, by="cluster_name", size="customers", sums=["share", *means])
    table[means] = table[means].div(table["customers"].astype("float64"), axis=0)
    inside = profiles["cluster_name"].astype("str").isin(pooled)
    names = ", ".join(profiles.loc[inside, "cluster_name"].astype("str"))
    table["pooled"] = np.where(table["cluster_name"] == OTHER, names, "")
    return table
