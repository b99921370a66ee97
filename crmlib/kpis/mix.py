"""Why a rate moved: the change split exactly into a rate effect and a mix effect (shift-share).

A rate of the whole base (retention = retained / customers at risk; revenue per active
customer = revenue / active customers) is a weighted mean of the same rate in each group of a
dimension (acquisition channel, RFM segment, region), weighted by each group's share of the
base. Between two periods it can move because the groups' own rates moved (the **rate
effect**) or because the base shifted toward groups that always do better or worse (the **mix
effect**). With shares ``w`` and rates ``r`` of group ``i`` in the periods before (0) and
after (1)::

    change      = sum_i w1_i r1_i - sum_i w0_i r0_i
    rate effect = sum_i (w0_i + w1_i) / 2 * (r1_i - r0_i)
    mix effect  = sum_i (r0_i + r1_i) / 2 * (w1_i - w0_i)

**Convention for the interaction term:** the midpoint (symmetric, Shapley) split. The
interaction ``(w1 - w0)(r1 - r0)`` is shared half and half, so neither effect depends on which
period is called the base, and the two parts add up to the change exactly (algebraically; in
floating point to the last bits). A group present in one period only has no rate in the other:
its rate there is taken to be the rate it has, so all of its contribution is mix (it entered
or left the base), none of it rate.

References
----------
.. [1] Kitagawa, E. M. (1955). Components of a difference between two rates. Journal of the
   American Statistical Association 50(272), 1168-1194.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from crmlib.privacy import MIN_CELL_SIZE, OTHER, SmallCells

__all__ = ["MixShift", "mix_shift", "PeriodMix", "MIX_METRICS", "period_mix"]

#: The columns of :attr:`MixShift.table`, one row per group.
MIX_COLUMNS = (
    "group", "base_before", "base_after", "share_before", "share_after",
    "rate_before", "rate_after", "rate_effect", "mix_effect", "change",
)  # fmt: skip


@dataclass(frozen=True)
class MixShift:
    """A change of a rate, split into the groups' own rates moving and the mix moving.

    ``rate_before``/``rate_after``: the rate of the whole base; ``change`` = after - before =
    ``rate_effect`` + ``mix_effect``; ``table``: one row per group (:data:`MIX_COLUMNS`), its
    ``rate_effect`` and ``mix_effect`` summing to the totals.
    """

    by: str
    rate_before: float
    rate_after: float
    rate_effect: float
    mix_effect: float
    table: pd.DataFrame

    @property
    def change(self) -> float:
        """The change of the whole base's rate (after - before)."""
        return self.rate_after - self.rate_before


def _groups(frame: pd.DataFrame, *, by: str, base: str, outcome: str, label: str) -> pd.DataFrame:
    missing = [c for c in (by, base, outcome) if c not in frame.columns]
    if missing:
        raise ValueError(
            f"mix_shift: the {label} table has no column {missing[0]!r}; expected columns "
            f"{by!r} (the groups), {base!r} (the base) and {outcome!r} (the outcome)"
        )
    values = frame[[by, base, outcome]].copy()
    for column in (base, outcome):
        values[column] = pd.to_numeric(values[column], errors="coerce")
        bad = values[column].isna() | ~np.isfinite(values[column])
        if bad.any():
            group = values.loc[bad, by].iloc[0]
            raise ValueError(
                f"mix_shift: the {label} table's {column!r} of group {group!r} is not a finite "
                "number; expected a count or an amount"
            )
    if (values[base] < 0).any():
        group = values.loc[values[base] < 0, by].iloc[0]
        raise ValueError(
            f"mix_shift: the {label} table's {base!r} of group {group!r} is negative; "
            "expected a count of customers (0 or more)"
        )
    grouped = values.groupby(by, dropna=False, sort=True)[[base, outcome]].sum()
    if grouped[base].sum() <= 0:
        raise ValueError(f"mix_shift: the {label} table's {base!r} sums to 0; a rate needs a base")
    return grouped


def mix_shift(
    before: pd.DataFrame,
    after: pd.DataFrame,
    *,
    by: str,
    base: str = "customers",
    outcome: str = "retained",
) -> MixShift:
    """Split the change of ``outcome / base`` between two periods into rate and mix effects.

    Parameters
    ----------
    before, after : DataFrame
        One or more rows per group of the two periods, with columns ``by`` (the group),
        ``base`` (e.g. customers at risk, or active customers) and ``outcome`` (e.g. those
        retained, or revenue). Rows of one group are summed.
    by, base, outcome : str
        The column names.

    Returns
    -------
    MixShift
        The rates of the whole base, the two effects (which sum to the change exactly: the
        midpoint convention of the module docstring) and the table by group, ordered by
        group.

    Raises
    ------
    ValueError
        A column is missing, a value is not a finite number, a base is negative, or a
        period's base sums to zero (the message names the table, the column and the group).

    Examples
    --------
    Both channels retain better, yet the whole base retains worse: it shifted toward the
    channel that always retains less (Simpson's paradox).

    >>> before = pd.DataFrame({"channel": ["email", "paid"], "customers": [800, 200],
    ...                        "retained": [400, 40]})
    >>> after = pd.DataFrame({"channel": ["email", "paid"], "customers": [200, 800],
    ...                       "retained": [110, 200]})
    >>> split = mix_shift(before, after, by="channel")
    >>> round(split.change, 3), round(split.rate_effect, 3), round(split.mix_effect, 3)
    (-0.13, 0.05, -0.18)
    """
    groups_before = _groups(before, by=by, base=base, outcome=outcome, label="before")
    groups_after = _groups(after, by=by, base=base, outcome=outcome, label="after")
    both = groups_before.add_suffix("_0").join(groups_after.add_suffix("_1"), how="outer")
    both = both.fillna(0.0)
    n0, n1 = both[f"{base}_0"].to_numpy(float), both[f"{base}_1"].to_numpy(float)
    y0, y1 = both[f"{outcome}_0"].to_numpy(float), both[f"{outcome}_1"].to_numpy(float)
    w0, w1 = n0 / n0.sum(), n1 / n1.sum()
    # a group absent from a period has no rate there (the divisor is guarded, never 0)
    r0 = np.where(n0 > 0, y0 / np.where(n0 > 0, n0, 1.0), np.nan)
    r1 = np.where(n1 > 0, y1 / np.where(n1 > 0, n1, 1.0), np.nan)
    # a group of one period only: its rate in the other is its own (all mix, no rate effect)
    r0_filled, r1_filled = np.where(np.isnan(r0), r1, r0), np.where(np.isnan(r1), r0, r1)
    rate = (w0 + w1) / 2 * (r1_filled - r0_filled)
    mix = (r0_filled + r1_filled) / 2 * (w1 - w0)
    table = pd.DataFrame({
        "group": both.index.to_list(), "base_before": n0, "base_after": n1,
        "share_before": w0, "share_after": w1, "rate_before": r0, "rate_after": r1,
        "rate_effect": rate, "mix_effect": mix, "change": rate + mix,
    })  # fmt: skip
    return MixShift(
        by=by,
        rate_before=float(y0.sum() / n0.sum()),
        rate_after=float(y1.sum() / n1.sum()),
        rate_effect=float(rate.sum()),
        mix_effect=float(mix.sum()),
        table=table,
    )


#: The rates :func:`period_mix` splits: the base and the outcome columns of
#: :func:`crmlib.kpis.kpis_by_group`, and how the rate reads.
MIX_METRICS: dict[str, tuple[str, str, str]] = {
    "retention": ("at_risk_customers", "returning_customers", "retention rate"),
    "revenue_per_active": ("active_customers", "revenue", "revenue per active customer"),
}


@dataclass(frozen=True)
class PeriodMix:
    """The change of one rate between two periods, split by :func:`mix_shift`, for a page.

    ``split`` is None when the change cannot be split, and ``reason`` then says why in words;
    ``pooled`` counts the groups pooled into ``(other)`` by the small-cell rule.
    """

    metric: str
    by: str
    before: str
    after: str
    split: MixShift | None
    pooled: int = 0
    reason: str | None = None

    @property
    def label(self) -> str:
        """How the rate reads ("retention rate")."""
        return MIX_METRICS[self.metric][2]


def _default_periods(by_group: pd.DataFrame) -> tuple[str, str] | None:
    complete = by_group.loc[by_group["is_complete"].astype(bool), "period_label"]
    labels = list(dict.fromkeys(complete.astype(str)))
    return (labels[-2], labels[-1]) if len(labels) >= 2 else None


def period_mix(
    by_group: pd.DataFrame | None,
    *,
    by: str,
    metric: Literal["retention", "revenue_per_active"] = "retention",
    before: str | None = None,
    after: str | None = None,
    min_cell_size: int = MIN_CELL_SIZE,
) -> PeriodMix:
    """Why a KPI moved between two periods: its change split into rate and mix effects.

    Transforms :func:`crmlib.kpis.kpis_by_group` (one row per period and group) into the
    :func:`mix_shift` of ``metric`` between the periods labelled ``before`` and ``after``
    (default: the latest complete period against the one before it, as the headline tiles).
    Groups of fewer than ``min_cell_size`` customers in either period are pooled into
    ``(other)`` first (:meth:`crmlib.privacy.SmallCells.pooled_groups`), which leaves the
    whole base's rates and the change as they are.

    ``metric``: ``retention`` (returning customers / the previous period's active ones: the
    KPI tile's retention rate) or ``revenue_per_active`` (the revenue of the period's active
    customers / active customers).

    Returns
    -------
    PeriodMix
        With ``split`` None and a ``reason`` in words when there is nothing to split: no
        customers table, fewer than two complete periods, or a period without a base.
    """
    base, outcome, label = MIX_METRICS[metric]
    if by_group is None:
        return PeriodMix(metric, by, "", "", None, reason="the run has no customers table, "
                         f"so customers have no {by.replace('_', ' ')}")  # fmt: skip
    if before is None or after is None:
        default = _default_periods(by_group) if len(by_group) else None
        if default is None:
            return PeriodMix(metric, by, "", "", None, reason="there are fewer than two "
                             "complete periods to compare")  # fmt: skip
        before, after = before or default[0], after or default[1]
    labels = by_group["period_label"].astype(str)
    frames = {name: by_group[labels == name] for name in (before, after)}
    for name, frame in frames.items():
        if frame.empty:
            raise ValueError(
                f"period_mix: no period labelled {name!r} in the table; expected one of "
                f"{sorted(by_group['period_label'].astype(str).unique())}"
            )
        if frame[base].sum() <= 0:
            return PeriodMix(metric, by, before, after, None, reason=f"{name} has no "
                             f"{base.replace('_', ' ')}, so its {label} is not defined")  # fmt: skip
    # a group without a base in a period (none of its customers bought) has no part in it
    frames = {name: frame[frame[base] > 0] for name, frame in frames.items()}
    sizes = pd.concat([frames[before].set_index("group")[base],
                       frames[after].set_index("group")[base]], axis=1).fillna(0)  # fmt: skip
    pooled = SmallCells(min_cell_size).pooled_groups(sizes.where(sizes > 0).min(axis=1))
    pooled_frames = [
        frame.assign(
            group=frame["group"].astype(str).where(~frame["group"].astype(str).isin(pooled), OTHER)
        )
        for frame in frames.values()
    ]
    split = mix_shift(*pooled_frames, by="group", base=base, outcome=outcome)
    return PeriodMix(metric, by, before, after, split, pooled=len(pooled))
