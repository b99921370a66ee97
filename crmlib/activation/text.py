"""The activation funnel in words: one sentence per campaign, counts only, small counts hidden."""

from __future__ import annotations

import pandas as pd

from crmlib.activation.audience import FUNNEL_STEPS
from crmlib.checks import require_columns
from crmlib.errors import DataContractError
from crmlib.privacy import MIN_CELL_SIZE, SmallCells

__all__ = ["describe_activation"]


def _with_noun(words: str | None, noun: str, plural: str | None = None) -> str:
    """``"12 recent buyers"``, ``"1 recent buyer"``; a hidden count reads ``"some ..."``."""
    many = plural or noun + "s"
    if words is None:
        return f"some {many}"
    return f"{words} {noun if words == '1' else many}"


def describe_activation(funnel: pd.DataFrame, *, min_cell_size: int = MIN_CELL_SIZE) -> str:
    """Markdown: one bullet per campaign with its funnel in words, counts only.

    A count from 1 to ``min_cell_size - 1`` reads "fewer than 10"; where a stated count and
    the total it adds up to would reveal such a count (target + control = the customers
    left after suppression; the customers removed by each suppression rule), the next
    smallest is not stated either: "the rest targeted", "some recent buyers"
    (:meth:`crmlib.privacy.SmallCells.words`).

    Parameters
    ----------
    funnel : pd.DataFrame
        *campaign, step, customers* (and optionally *channel, trigger, segments*), as returned
        by :func:`write_exports` or :attr:`Audience.funnel`.
    min_cell_size : int, default MIN_CELL_SIZE
        The run's ``privacy.min_cell_size``.

    Returns
    -------
    str

    Examples
    --------
    >>> steps = dict(in_segment=1234, consented=612, not_suppressed=600,
    ...              no_recent_purchase=575, not_capped=560, target=504, control=56)
    >>> funnel = pd.DataFrame({"campaign": "winback-email", "step": list(steps),
    ...     "customers": list(steps.values()), "channel": "email", "trigger": "entered",
    ...     "segments": "At risk"})
    >>> print(describe_activation(funnel))
    - **winback-email**: 1,234 customers entered At risk; 612 consented to email, 560 after suppression (12 on the suppression list, 25 recent buyers, 15 frequency-capped); 504 targeted, 56 held out as control.
    >>> small = funnel.assign(customers=[1234, 612, 605, 580, 580, 575, 5])
    >>> print(describe_activation(small))
    - **winback-email**: 1,234 customers entered At risk; 612 consented to email, 580 after suppression (fewer than 10 on the suppression list, some recent buyers); the rest targeted, fewer than 10 held out as control.
    """
    require_columns(funnel, ["campaign", "step", "customers"], table_name="funnel")
    if funnel.empty:
        return "No activation campaign is configured."
    lines = []
    for campaign, rows in funnel.groupby("campaign", sort=False):
        counts = {
            str(step): int(n) for step, n in zip(rows["step"], rows["customers"], strict=True)
        }
        missing = [step for step in FUNNEL_STEPS if step not in counts]
        if missing:
            raise DataContractError(f"funnel: campaign {campaign!r} has no step {missing[0]!r}")
        first = rows.iloc[0]
        targets = str(first["segments"]) if "segments" in rows else "the target segments"
        channel = str(first["channel"]) if "channel" in rows else "the channel"
        entered = "trigger" in rows and first["trigger"] == "entered"
        verb = "entered" if entered else "in"
        if counts["in_segment"] == 0:
            who = "entered" if entered else "is in"
            lines.append(f"- **{campaign}**: no customer {who} {targets}; nothing to export.")
            continue
        dropped = {
            "suppressed": counts["consented"] - counts["not_suppressed"],
            "recent": counts["not_suppressed"] - counts["no_recent_purchase"],
            "capped": counts["no_recent_purchase"] - counts["not_capped"],
        }
        words = SmallCells(min_cell_size).words(
            {
                "in_segment": counts["in_segment"],
                "consented": counts["consented"],
                "not_capped": counts["not_capped"],
                "target": counts["target"],
                "control": counts["control"],
                "dropped": sum(dropped.values()),
                **dropped,
            },
            parts={"not_capped": ["target", "control"], "dropped": list(dropped)},
        )
        detail = ", ".join(
            phrase
            for step, phrase in (
                ("suppressed", f"{words['suppressed'] or 'some'} on the suppression list"),
                ("recent", _with_noun(words["recent"], "recent buyer")),
                ("capped", f"{words['capped'] or 'some'} frequency-capped"),
            )
            if dropped[step]
        )
        lines.append(
            f"- **{campaign}**: {_with_noun(words['in_segment'], 'customer')} {verb} {targets}; "
            f"{words['consented'] or 'some'} consented to {channel}, "
            f"{words['not_capped'] or 'some'} after "
            f"suppression{f' ({detail})' if detail else ''}; "
            f"{words['target'] or 'the rest'} targeted, "
            f"{words['control'] or 'the rest'} held out as control."
        )
    return "\n".join(lines)
