"""06_churn in words: the page's sentences, the model card, the conclusion, per-customer reasons.

Everything on the page reads counts, rates and money; no customer id ever reaches a sentence.
The reasons (:func:`reason_codes`) are per customer and travel with the artifact and the
contact list, never to the page; they are words too, built from each customer's own values.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from crmlib.checks import require_columns
from crmlib.churn.models.drivers import _model_features
from crmlib.churn.models.scorecard import HoldoutScores
from crmlib.churn.models.training import (
    UNKNOWN_LEVEL,
    ChurnTraining,
    FittedChurnModel,
    _feature_frame,
)
from crmlib.churn.queries import ChurnTables
from crmlib.churn.trend import latest_changes
from crmlib.errors import DataContractError
from crmlib.formatting import details, format_money
from crmlib.privacy import SmallCells

__all__ = [
    "describe_tables",
    "describe_training",
    "describe_scorecard",
    "describe_importance",
    "describe_dependence",
    "describe_value",
    "describe_segment_trend",
    "model_card",
    "churn_conclusion",
    "reason_codes",
]

log = logging.getLogger(__name__)


def _pct(value: float, decimals: int = 0) -> str:
    return "n/a" if not np.isfinite(value) else f"{100 * value:.{decimals}f}%"


def _rate(frame: pd.DataFrame) -> float:
    return float(frame["churned"].mean()) if len(frame) and "churned" in frame else float("nan")


def _churned(rule: SmallCells, frame: pd.DataFrame) -> str:
    """ ", 45% churned" for a cutoff's customers; nothing when they are too few to describe."""
    return f", {_pct(_rate(frame))} churned" if rule.shown(len(frame)) else ""


def describe_tables(tables: ChurnTables, *, min_cell_size: int) -> str:
    """Markdown: the cutoffs, how many customers each has and how many churned.

    Numbers of customers are written by the small-cell rule (``min_cell_size``: "fewer than
    10 active customers"), and the churn rate of a cutoff with fewer is not given.
    """
    rule = SmallCells(min_cell_size)
    cut = tables.cutoffs
    lines = [
        f"- **Label:** a customer active at a cutoff (an order in the lookback window) has "
        f"*churned* when they place no order in the {cut.horizon_days} days after it.",
        f"- **Training cutoff {cut.train}:** {rule.phrase(len(tables.train), 'active customer')}"
        f"{_churned(rule, tables.train)}.",
        f"- **Validation cutoff {cut.validation}:** "
        f"{rule.phrase(len(tables.validation), 'active customer')}"
        f"{_churned(rule, tables.validation)} (labels fully observed up to {cut.score}).",
        f"- **Scored at {cut.score}:** {rule.phrase(len(tables.score), 'active customer')}.",
        f"- **Features:** {len(tables.numeric)} numeric and {len(tables.categorical)} categorical, "
        "all computed from data up to the end of each cutoff day.",
    ]
    lines.extend(f"- {note}" for note in tables.notes)
    return "\n".join(lines)


def describe_training(training: ChurnTraining, *, min_cell_size: int) -> str:
    """Markdown: which scorer was chosen and why, or the fallback and its reason.

    The number of validation customers is written by the small-cell rule (``min_cell_size``).
    """
    if training.fallback is not None:
        what = (
            "the recency rule (the churn rate by days since the last order, learned at the "
            "training cutoff)"
            if training.is_probability
            else "the recency rank (days since the last order as a share of the lookback "
            "window: a ranking, not a probability)"
        )
        return (
            f"**No model could be trained:** {training.fallback} Every customer is scored by "
            f"{what} instead; treat the scores as a rough ranking."
        )
    lines = [f"**Chosen model: {training.chosen_name}** (lowest validation log-loss)."]
    if not training.comparison.empty:
        best = training.comparison.iloc[0]
        lines[0] += (
            f" Validation log-loss {best['log_loss']:.3f}, Brier {best['brier']:.3f}, "
            f"ROC AUC {best['roc_auc']:.3f} on {SmallCells(min_cell_size).phrase(int(best['n']))}."
        )
    fitting = dict.fromkeys(note for model in training.models.values() for note in model.notes)
    lines.extend(f"- {note}" for note in dict.fromkeys(training.notes) if note not in fitting)
    folded = details("how the models were trained", list(fitting))
    return "\n".join(lines) + (f"\n\n{folded}" if folded else "")


def _metric(card: pd.DataFrame, scorer: str, metric: str) -> pd.Series | None:
    rows = card[(card["scorer"] == scorer) & (card["metric"] == metric)]
    return None if rows.empty else rows.iloc[0]


def describe_scorecard(
    card: pd.DataFrame, holdout: HoldoutScores, *, chosen: str, min_cell_size: int
) -> str:
    """Markdown: the chosen scorer against the recency rule and BTYD on the same customers.

    Numbers of customers are written by the small-cell rule (``min_cell_size``).
    """
    if card.empty:
        return str(card.attrs.get("note", "No scorecard."))
    rule = SmallCells(min_cell_size)
    auc = _metric(card, chosen, "roc_auc")
    lines = []
    if auc is not None:
        churned = rule.phrase(int(auc["n_churned"]), "churner")
        lines.append(
            f"On the {rule.phrase(int(auc['n']), 'validation customer')} ({churned}) "
            f"**{chosen}** ranks a random churner above a random stayer "
            f"{_pct(float(auc['value']))} of the time (ROC AUC {auc['value']:.3f}, 95% interval "
            f"{auc['ci_low']:.3f}–{auc['ci_high']:.3f})."
        )
    for other in holdout.scores:
        if other == chosen:
            continue
        diff_auc = _metric(card, f"{chosen} - {other}", "roc_auc")
        diff_brier = _metric(card, f"{chosen} - {other}", "brier")
        if diff_auc is None:
            continue
        better = (
            "better" if diff_auc["ci_low"] > 0 else "worse" if diff_auc["ci_high"] < 0 else None
        )
        verdict = (
            f"ranks {better} than the {other} (AUC difference {diff_auc['value']:+.3f}, "
            f"interval {diff_auc['ci_low']:+.3f} to {diff_auc['ci_high']:+.3f})"
            if better
            else f"ranks about as well as the {other} (AUC difference {diff_auc['value']:+.3f}, "
            "interval includes 0)"
        )
        if diff_brier is not None and np.isfinite(diff_brier["value"]):
            verdict += (
                f"; its probabilities are {'closer to' if diff_brier['value'] < 0 else 'further from'}"
                f" what happened (Brier difference {diff_brier['value']:+.3f})"
            )
        lines.append(f"- It {verdict}.")
    lines.extend(f"- {note}" for note in holdout.notes)
    folded = details("how the BTYD baseline was refitted", list(holdout.fit_notes))
    return "\n".join(lines) + (f"\n\n{folded}" if folded else "")


def _sampled(table: pd.DataFrame) -> tuple[int, int] | None:
    """(rows used, rows there were) from a drivers table's attrs; None when all were used."""
    rows, total = table.attrs.get("rows"), table.attrs.get("rows_total")
    if rows is None or total is None or int(rows) >= int(total):
        return None
    return int(rows), int(total)


def describe_importance(table: pd.DataFrame) -> str:
    """The sentence under the importance chart when it was measured on a sample; "" otherwise.

    Reads the attrs of :func:`crmlib.churn.models.drivers.permutation_importance_table`
    (``rows``, ``rows_total``, ``n_repeats``). Nothing is said when every validation customer
    was used: the chart's axis already says what the bars are.

    Examples
    --------
    >>> table = pd.DataFrame({"feature": ["recency_days"], "importance_mean": [0.05],
    ...                       "importance_sd": [0.001]})
    >>> table.attrs.update(rows=10_000, rows_total=696_710, n_repeats=5)
    >>> describe_importance(table)
    'Importance measured on a random sample of 10,000 of the 696,710 validation customers; ± (the whiskers) is the spread over 5 shuffles of that sample.'
    >>> table.attrs.update(rows=3_512, rows_total=3_512)
    >>> describe_importance(table)
    ''
    """
    sampled = _sampled(table)
    if sampled is None:
        return ""
    rows, total = sampled
    repeats = int(table.attrs.get("n_repeats", 0))
    shuffles = f"{repeats} shuffle{'s' if repeats != 1 else ''}" if repeats else "the shuffles"
    return (
        f"Importance measured on a random sample of {rows:,} of the {total:,} validation "
        f"customers; ± (the whiskers) is the spread over {shuffles} of that sample."
    )


def describe_dependence(table: pd.DataFrame) -> str:
    """The sentence under the partial-dependence charts when averaged over a sample; "" otherwise.

    Reads the attrs of :func:`crmlib.churn.models.drivers.partial_dependence_table` (``rows``,
    ``rows_total``).

    Examples
    --------
    >>> table = pd.DataFrame(columns=["feature", "value", "kind", "mean_p_churn"])
    >>> table.attrs.update(rows=5_000, rows_total=748_732)
    >>> describe_dependence(table)
    'Mean P(churn) over a random sample of 5,000 of the 748,732 customers scored.'
    """
    sampled = _sampled(table)
    if sampled is None:
        return ""
    rows, total = sampled
    return f"Mean P(churn) over a random sample of {rows:,} of the {total:,} customers scored."


def describe_value(
    plan: pd.DataFrame, economics: Mapping[str, Any], *, currency: str, min_cell_size: int
) -> str:
    """Markdown: value at risk, where it sits by band, and the break-even of a contact.

    Numbers of customers are written by the small-cell rule (``min_cell_size``); the share
    of value at risk of a High band of fewer customers is not given.
    """
    if plan.empty:
        return "No active customer to value at the as-of date."
    rule = SmallCells(min_cell_size)
    sources = plan["value_source"].value_counts().to_dict()
    source = (
        "05_clv's customer lifetime value"
        if sources.get("clv", 0) and not sources.get("historical", 0)
        else "net spend in the last 365 days times the margin (05_clv has not run)"
        if not sources.get("clv", 0)
        else f"05_clv's CLV ({rule.phrase(sources['clv'])}) or, for the "
        f"{rule.phrase(sources['historical'])} it does not value, last year's net spend times "
        "the margin"
    )
    high = plan[plan["risk_band"] == "High"]
    share_high = float(high["value_at_risk"].sum()) / max(float(plan["value_at_risk"].sum()), 1e-12)
    hold = f"hold {_pct(share_high)} of it" if rule.shown(len(high)) else "are too few to describe"
    return "\n".join(
        [
            f"- **Value at risk** (P(churn) × value; value = {source}): "
            f"{format_money(float(plan['value_at_risk'].sum()), currency)} across "
            f"{rule.phrase(len(plan), 'active customer')}; the "
            f"{rule.phrase(len(high), 'High-risk customer')} {hold}.",
            f"- **Contact where it pays:** with a save rate of "
            f"{_pct(economics['save_rate'])} and {format_money(economics['cost_per_contact'], currency, small_decimals=2)}"
            f" per contact, a contact pays when P(churn) × value exceeds "
            f"{format_money(economics['break_even_value_at_risk'], currency, small_decimals=2)}: "
            f"{rule.phrase(economics['contacts'])}{_share(rule, economics)}, expected "
            f"saved value {format_money(economics['expected_saved_value'], currency)} for "
            f"{format_money(economics['total_cost'], currency)} of contacts, net "
            f"{format_money(economics['expected_net_value'], currency)}.",
            f"- A customer of median value "
            f"({format_money(economics['median_value'], currency)}) is worth a contact above "
            f"P(churn) {_pct(economics['break_even_p_churn_at_median_value'])}.",
        ]
    )


def model_card(
    tables: ChurnTables,
    training: ChurnTraining,
    card: pd.DataFrame,
    *,
    lookback_days: int,
    excluded: list[str] | tuple[str, ...],
) -> str:
    """Markdown: the short model card (data window, label, features, metrics, limits)."""
    cut = tables.cutoffs
    auc = _metric(card, training.chosen_name, "roc_auc") if not card.empty else None
    brier = _metric(card, training.chosen_name, "brier") if not card.empty else None
    metrics = (
        f"validation ROC AUC {auc['value']:.3f} ({auc['ci_low']:.3f}–{auc['ci_high']:.3f})"
        + (f", Brier {brier['value']:.3f}" if brier is not None else "")
        if auc is not None
        else "not measured (no usable validation labels)"
    )
    return "\n".join(
        [
            f"| | |\n|---|---|\n| **Model** | {training.chosen_name}"
            + (f" (fallback: {training.fallback})" if training.fallback else "")
            + " |",
            f"| **Data window** | orders, customers and messaging events up to each cutoff: "
            f"trained at {cut.train}, validated at {cut.validation}, scoring at {cut.score} |",
            f"| **Population** | customers with an order in the {lookback_days} days up to the cutoff |",
            f"| **Label** | no order in the {cut.horizon_days} days after the cutoff |",
            f"| **Features** | {', '.join((*tables.numeric, *tables.categorical))} |",
            f"| **Left out** | {', '.join(excluded) if excluded else 'none'} |",
            f"| **Metrics** | {metrics} |",
            "| **Limits** | customer attributes (region, birth year, consent) are today's "
            "snapshot, not their value at the cutoff; refunds are netted into their order "
            "whatever their date; the model learns from one past cutoff and assumes the next "
            f"{cut.horizon_days} days behave alike (seasonality is not modelled); reasons are "
            "additive approximations of the model, not causes |",
        ]
    )


def _share(rule: SmallCells, economics: Mapping[str, Any]) -> str:
    """ " (88%)": the share of customers contacted, left out with a count that is not shown."""
    if not rule.shown(economics["contacts"]):
        return ""
    return f" ({_pct(economics['share_contacted'])})"


def churn_conclusion(
    plan: pd.DataFrame,
    training: ChurnTraining,
    card: pd.DataFrame,
    economics: Mapping[str, Any],
    *,
    horizon_days: int,
    currency: str,
    min_cell_size: int,
) -> str:
    """One paragraph for the front page: risk, how sure, value at risk, who to contact.

    Numbers of customers are written by the small-cell rule (``min_cell_size``); the share
    at high risk is left out when their number is not shown.
    """
    if plan.empty:
        return "No customer was active at the as-of date, so nobody was scored."
    rule = SmallCells(min_cell_size)
    high = int((plan["risk_band"] == "High").sum())
    auc = _metric(card, training.chosen_name, "roc_auc") if not card.empty else None
    sure = (
        f" The {training.chosen_name} model ranks churners with ROC AUC {auc['value']:.2f} on "
        "customers it had not seen."
        if auc is not None
        else ""
    )
    fallback = (
        f" No model could be trained ({training.fallback}); scores come from recency alone."
        if training.fallback
        else ""
    )
    share = f"{_pct(high / len(plan))} " if rule.shown(high) else ""
    at_risk = rule.phrase(high)
    return (
        f"{at_risk[:1].upper()}{at_risk[1:]} ({share}of the "
        f"{rule.phrase(len(plan), 'active customer')}) are at high risk of placing no order in "
        f"the next {horizon_days} days.{sure}{fallback} "
        f"Value at risk is {format_money(float(plan['value_at_risk'].sum()), currency)}; "
        f"contacting the {rule.phrase(economics['contacts'])} for whom it pays is expected to "
        f"net {format_money(economics['expected_net_value'], currency)}."
    )


#: Below this tenure a customer is called new in the reason words.
_NEW_CUSTOMER_DAYS = 180

_TEXT = np.dtypes.StringDType()


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


# -- retention by segment and channel over time -----------------------------------------------
_GROUP_WORDS = {"segment": ("segment", "segments"), "acquisition_channel": ("channel", "channels")}


def _trend_note(trend: pd.DataFrame, dimension: str) -> str | None:
    """Why a split of :func:`crmlib.churn.trend.churn_by_segment` has nothing to show, or None."""
    notes = trend.attrs.get("notes", {})
    return notes.get("all") or notes.get(dimension)


def _points(value: float) -> str:
    return f"{'+' if value > 0 else '−' if value < 0 else '±'}{abs(value):.1f} pp"


def describe_segment_trend(trend: pd.DataFrame, *, dimension: str, min_cell_size: int) -> str:
    """Markdown: the latest complete period's retention by segment (or channel), which group's
    fell most against the previous period and a year earlier, and what is not shown.

    Reads :func:`crmlib.churn.trend.churn_by_segment`. A group whose base holds fewer than
    ``min_cell_size`` customers has no rate (masked) and is named only as masked; a fall is
    called beyond chance when the 95% interval of the change (Newcombe) excludes 0. When the
    split could not be computed, the one sentence that says why.

    Examples
    --------
    >>> empty = pd.DataFrame(columns=["dimension"])
    >>> empty.attrs["notes"] = {"acquisition_channel": "There is no customers table."}
    >>> describe_segment_trend(empty, dimension="acquisition_channel", min_cell_size=10)
    'There is no customers table.'
    """
    note = _trend_note(trend, dimension)
    if note:
        return note
    one, many = _GROUP_WORDS.get(dimension, ("group", "groups"))
    period = str(trend.attrs.get("period", "period"))
    changes = latest_changes(trend, dimension=dimension)
    if changes.empty:
        return f"No {period} is complete yet, so retention by {one} cannot be compared."
    label = changes["period_label"].iloc[0]
    shown = changes[~changes["masked"].astype(bool)]
    masked = changes[changes["masked"].astype(bool) & (changes["base_customers"] > 0)]
    masked_words = (
        f" {len(masked)} {one if len(masked) == 1 else many} with fewer than "
        f"{min_cell_size:,} customers at the start of {label} "
        f"({', '.join(masked['dimension_value'])}) {'is' if len(masked) == 1 else 'are'} "
        "not shown."
        if len(masked)
        else ""
    )
    if shown.empty:
        return (
            f"In {label} no {one} had {min_cell_size:,} or more customers at the start of the "
            f"{period}, so no rate by {one} is shown."
        )
    best = shown.loc[shown["retention_rate"].idxmax()]
    worst = shown.loc[shown["retention_rate"].idxmin()]
    text = (
        f"Of the customers who bought in the {period} before **{label}**, retention was highest "
        f"for **{best['dimension_value']}** ({_pct(best['retention_rate'], 1)}, 95% interval "
        f"{_pct(best['retention_lower'], 1)}–{_pct(best['retention_upper'], 1)}) and lowest for "
        f"**{worst['dimension_value']}** ({_pct(worst['retention_rate'], 1)}, "
        f"{_pct(worst['retention_lower'], 1)}–{_pct(worst['retention_upper'], 1)})."
    )
    if len(shown) == 1:
        text = (
            f"Of the customers who bought in the {period} before **{label}**, "
            f"{_pct(best['retention_rate'], 1)} of **{best['dimension_value']}** bought again "
            f"(95% interval {_pct(best['retention_lower'], 1)}–{_pct(best['retention_upper'], 1)})."
        )
    compared = shown[np.isfinite(shown["change_previous_pp"].astype("float64"))]
    if len(compared):
        fall = compared.loc[compared["change_previous_pp"].idxmin()]
        previous = fall["previous_label"]
        if fall["change_previous_pp"] < 0:
            beyond = fall["change_previous_upper_pp"] < 0
            text += (
                f" Against {previous}, retention fell most for **{fall['dimension_value']}**: "
                f"{_points(fall['change_previous_pp'])} ({_pct(fall['previous_rate'], 1)} → "
                f"{_pct(fall['retention_rate'], 1)}), "
                + (
                    "more than chance alone would explain"
                    if beyond
                    else "within what chance alone could give"
                )
                + f" (95% interval of the change {_points(fall['change_previous_lower_pp'])} to "
                f"{_points(fall['change_previous_upper_pp'])})."
            )
        else:
            text += (
                f" Against {previous}, no {one}'s retention fell; the smallest change was "
                f"{_points(fall['change_previous_pp'])} ({fall['dimension_value']})."
            )
    yearly = shown[np.isfinite(shown["change_year_pp"].astype("float64"))]
    if len(yearly):
        year_fall = yearly.loc[yearly["change_year_pp"].idxmin()]
        against = f" Against a year earlier ({year_fall['year_ago_label']}),"
        if year_fall["change_year_pp"] < 0:
            text += (
                f"{against} it fell most for **{year_fall['dimension_value']}** "
                f"({_points(year_fall['change_year_pp'])})."
            )
        else:
            text += (
                f"{against} no {one}'s retention fell; the smallest change was "
                f"{_points(year_fall['change_year_pp'])} ({year_fall['dimension_value']})."
            )
    empty = changes[changes["base_customers"] == 0]["dimension_value"].tolist()
    if empty and dimension == "segment":
        text += (
            f" {', '.join(empty)} held no customer who bought in the {period} before (recent "
            "buyers score high on recency, so these segments are seldom in the base)."
        )
    return text + masked_words
