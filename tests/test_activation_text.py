"""Tests of the activation funnel in words: stated counts and the small-count rule."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_activation_audience import AS_OF, HAND_MEMBERS, HAND_SUPPRESSION, WINBACK, hand_engine

from crmlib.activation.audience import FUNNEL_STEPS, build_audience
from crmlib.activation.campaigns import Campaign
from crmlib.activation.text import describe_activation
from crmlib.engine import Engine
from crmlib.errors import DataContractError


@pytest.fixture
def engine() -> Iterator[Engine]:
    with hand_engine() as eng:
        yield eng


# -- report sentences -----------------------------------------------------------------------------
def test_describe_activation(engine: Engine) -> None:
    winback = build_audience(
        engine, WINBACK, members=HAND_MEMBERS, as_of_date=AS_OF, suppression=HAND_SUPPRESSION
    )
    nobody = build_audience(
        engine,
        Campaign(
            name="lost-push",
            segments=("Lost",),
            channel="push",
            trigger="in_segment",
            recent_purchase_days=None,
        ),
        members=HAND_MEMBERS,
        as_of_date=AS_OF,
    )
    both = pd.concat([winback.funnel, nobody.funnel])
    # min_cell_size 1: every count stated
    text = describe_activation(both, min_cell_size=1)
    assert text.splitlines() == [
        "- **winback-email**: 12 customers in At risk; 7 consented to email, 4 after suppression "
        "(1 on the suppression list, 1 recent buyer, 1 frequency-capped); 4 targeted, "
        "0 held out as control.",
        "- **lost-push**: no customer is in Lost; nothing to export.",
    ]
    assert describe_activation(both).splitlines() == [
        "- **winback-email**: 12 customers in At risk; fewer than 10 consented to email, fewer "
        "than 10 after suppression (fewer than 10 on the suppression list, fewer than 10 recent "
        "buyers, fewer than 10 frequency-capped); fewer than 10 targeted, 0 held out as control.",
        "- **lost-push**: no customer is in Lost; nothing to export.",
    ]
    # 06_churn passes the funnel alone: the default rule applies
    assert describe_activation(winback.funnel) == describe_activation(
        winback.funnel, min_cell_size=10
    )
    assert describe_activation(winback.funnel.iloc[:0]) == "No activation campaign is configured."
    with pytest.raises(DataContractError, match="funnel: column 'customers' is missing"):
        describe_activation(winback.funnel.drop(columns="customers"))


_WORDS = r"([\d,]+|fewer than [\d,]+|some|the rest)"
_STATED = {
    "consented": rf"; {_WORDS} consented to ",
    "not_capped": rf", {_WORDS} after suppression",
    "suppressed": rf"(?:\(|, ){_WORDS} on the suppression list",
    "recent": rf"(?:\(|, ){_WORDS} recent buyers?",
    "capped": rf"(?:\(|, ){_WORDS} frequency-capped",
    "target": rf"; {_WORDS} targeted",
    "control": rf", {_WORDS} held out as control",
}


def _stated(text: str) -> dict[str, int | None]:
    """What a reader learns from one funnel sentence: each exact count, None when not exact.

    A suppression rule the sentence does not mention removed nobody (0).
    """
    values: dict[str, int | None] = {}
    for name, pattern in _STATED.items():
        match = re.search(pattern, text)
        if match is None:
            assert name in ("suppressed", "recent", "capped"), (name, text)
            values[name] = 0
            continue
        words = match.group(1)
        values[name] = int(words.replace(",", "")) if words[0].isdigit() else None
    return values


@st.composite
def funnels(draw: st.DrawFn) -> tuple[pd.DataFrame, int]:
    """One campaign's funnel (each step at most the previous one) and a min_cell_size."""
    k = draw(st.integers(2, 25))
    counts = [draw(st.integers(1, 300))]
    for _ in range(4):
        counts.append(draw(st.integers(0, counts[-1])))
    control = draw(st.integers(0, counts[-1]))
    counts += [counts[-1] - control, control]
    funnel = pd.DataFrame(
        {"campaign": "c", "step": list(FUNNEL_STEPS), "customers": counts, "channel": "email",
         "trigger": "in_segment", "segments": "Gold"}
    )  # fmt: skip
    return funnel, k


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(funnels())
def test_the_funnel_sentence_never_reveals_a_small_count(case: tuple[pd.DataFrame, int]) -> None:
    funnel, k = case
    counts = dict(zip(funnel["step"], funnel["customers"], strict=True))
    text = describe_activation(funnel, min_cell_size=k)
    numbers = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", text)]
    assert [n for n in numbers if 0 < n < k] == [], text
    stated = _stated(text)
    first = re.search(r"\*\*: ([\d,]+) customers in", text)
    assert (first is not None) == (counts["in_segment"] >= k), text
    for name, value in stated.items():
        if value is not None:
            assert value == 0 or value >= k, (name, text)
    # what subtraction gives: the one part of a stated total that is not stated exactly.
    # The customers removed by suppression (consented - not capped) are a total of parts the
    # sentence states; when that difference of two steps is itself small it is the funnel
    # table's step-to-step difference, which the small-cell rule does not cover.
    relations = [("not_capped", ["target", "control"])]
    if stated["consented"] is not None and stated["not_capped"] is not None:
        stated["dropped"] = stated["consented"] - stated["not_capped"]
        if stated["dropped"] >= k:
            relations.append(("dropped", ["suppressed", "recent", "capped"]))
    for total, parts in relations:
        unknown = [part for part in parts if stated[part] is None]
        if stated[total] is not None and len(unknown) == 1:
            known = sum(stated[part] or 0 for part in parts if part not in unknown)
            derived = stated[total] - known
            assert derived == 0 or derived >= k, (unknown, derived, text)
