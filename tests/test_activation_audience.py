"""Tests of activation audiences: funnel by hand, consent as a property, control split, SQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmlib.activation.audience import (
    EXPORT_COLUMNS,
    FUNNEL_COLUMNS,
    FUNNEL_STEPS,
    LOOKALIKE_COLUMNS,
    Audience,
    build_audience,
    lookalike_seed,
)
from crmlib.activation.campaigns import Campaign
from crmlib.activation.exports import write_exports
from crmlib.engine import Engine, load_sql
from crmlib.errors import DataContractError, StageInputMissing
from crmlib.io import RunFolder

AS_OF = dt.date(2025, 6, 30)
END = dt.datetime(2025, 7, 1)  # exclusive end of AS_OF


def customers_frame(rows: list[tuple[str, bool | None, bool | None, bool | None]]) -> pd.DataFrame:
    """customers from (customer_id, email_opt_in, sms_opt_in, push_opt_in)."""
    frame = pd.DataFrame(rows, columns=["customer_id", "email_opt_in", "sms_opt_in", "push_opt_in"])
    for column in ("email_opt_in", "sms_opt_in", "push_opt_in"):
        frame[column] = frame[column].astype("boolean")
    frame["customer_id"] = frame["customer_id"].astype("str")
    return frame


def events_frame(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """events from (customer_id, event_ts, channel, event_type)."""
    frame = pd.DataFrame(rows, columns=["customer_id", "event_ts", "channel", "event_type"])
    frame["event_ts"] = pd.to_datetime(frame["event_ts"]).astype("datetime64[us]")
    return frame.astype({"customer_id": "str", "channel": "str", "event_type": "str"})


def transactions_frame(rows: list[tuple[str, str, bool]]) -> pd.DataFrame:
    """transactions (only what the rules read) from (customer_id, order_ts, is_purchase)."""
    frame = pd.DataFrame(rows, columns=["customer_id", "order_ts", "is_purchase"])
    frame["order_ts"] = pd.to_datetime(frame["order_ts"]).astype("datetime64[us]")
    return frame.astype({"customer_id": "str", "is_purchase": "bool"})


def members_frame(labels: dict[str, str | None], column: str = "segment") -> pd.DataFrame:
    return pd.DataFrame({"customer_id": list(labels), column: list(labels.values())})


# -- the hand example: each customer fails exactly one step -----------------------------------
HAND_MEMBERS = members_frame(
    {
        "ID-A": "At risk",  # passes everything
        "ID-B": "Champions",  # not a target label
        "ID-C": "At risk",  # email_opt_in false
        "ID-D": "At risk",  # email_opt_in null: no consent (fail closed)
        "ID-E": "At risk",  # no customers row: no consent
        "ID-F": "At risk",  # unsubscribed from email before as_of
        "ID-G": "At risk",  # unsubscribed after as_of, and from sms: still consented to email
        "ID-H": "At risk",  # on the suppression list
        "ID-I": "At risk",  # purchased on the first day of the 7-day window
        "ID-J": "At risk",  # purchased the minute before the window; a cancelled order inside
        "ID-K": "At risk",  # an email sent inside the 7-day cap window
        "ID-L": "At risk",  # an email sent before the window; an sms sent inside it
        "ID-M": "At risk",  # two customers rows, one opted out: no consent
    }
)
HAND_CUSTOMERS = customers_frame(
    [
        ("ID-A", True, False, False),
        ("ID-B", True, True, True),
        ("ID-C", False, True, True),
        ("ID-D", None, True, True),
        ("ID-F", True, True, True),
        ("ID-G", True, True, True),
        ("ID-H", True, False, False),
        ("ID-I", True, False, False),
        ("ID-J", True, False, False),
        ("ID-K", True, False, False),
        ("ID-L", True, False, False),
        ("ID-M", True, False, False),
        ("ID-M", False, False, False),
    ]
)
HAND_EVENTS = events_frame(
    [
        ("ID-F", "2025-06-15 10:00", "email", "unsubscribe"),
        ("ID-G", "2025-07-01 00:00", "email", "unsubscribe"),  # after as_of: not yet
        ("ID-G", "2025-06-01 00:00", "sms", "unsubscribe"),  # another channel
        ("ID-K", "2025-06-25 09:00", "email", "sent"),
        ("ID-L", "2025-06-23 23:00", "email", "sent"),  # before 2025-06-24 00:00
        ("ID-L", "2025-06-28 09:00", "sms", "sent"),
        ("ID-A", "2025-06-20 09:00", "email", "open"),  # opens never cap
    ]
)
HAND_TRANSACTIONS = transactions_frame(
    [
        ("ID-I", "2025-06-24 00:00", True),  # 7 days: 24 Jun .. 30 Jun
        ("ID-J", "2025-06-23 23:59", True),
        ("ID-J", "2025-06-29 12:00", False),  # cancelled: not a purchase
        ("ID-A", "2025-03-01 12:00", True),
    ]
)
HAND_SUPPRESSION = pd.DataFrame({"customer_id": ["ID-H", "ID-Z", None, " "]})
WINBACK = Campaign(
    name="winback-email",
    segments=("At risk",),
    channel="email",
    trigger="in_segment",
    control_share=0.0,
)


@contextmanager
def hand_engine() -> Iterator[Engine]:
    """An engine with the hand example's customers, events and transactions registered."""
    with Engine(threads=1) as eng:
        eng.register("customers", HAND_CUSTOMERS)
        eng.register("events", HAND_EVENTS)
        eng.register("transactions", HAND_TRANSACTIONS)
        yield eng


@pytest.fixture
def engine() -> Iterator[Engine]:
    with hand_engine() as eng:
        yield eng


def funnel_counts(audience: Audience) -> dict[str, int]:
    return dict(zip(audience.funnel["step"], audience.funnel["customers"], strict=True))


def test_hand_example_each_step(engine: Engine) -> None:
    audience = build_audience(
        engine, WINBACK, members=HAND_MEMBERS, as_of_date=AS_OF, suppression=HAND_SUPPRESSION
    )
    # in segment: everyone but B (12); consent drops C, D, E, F, M (7 left);
    # the list drops H; the 7-day purchase rule drops I; the cap drops K
    assert funnel_counts(audience) == {
        "in_segment": 12,
        "consented": 7,
        "not_suppressed": 6,
        "no_recent_purchase": 5,
        "not_capped": 4,
        "target": 4,
        "control": 0,
    }
    assert list(audience.funnel.columns) == list(FUNNEL_COLUMNS)
    assert audience.funnel["step"].tolist() == list(FUNNEL_STEPS)
    expected = pd.DataFrame(
        {
            "customer_id": ["ID-A", "ID-G", "ID-J", "ID-L"],
            "campaign": "winback-email",
            "segment": "At risk",
            "group": "target",
            "reason": "in segment At risk",
        }
    ).astype("str")
    pd.testing.assert_frame_equal(audience.export, expected)
    assert audience.notes == ()


@pytest.mark.parametrize(
    ("changes", "expected_ids"),
    [
        ({"recent_purchase_days": 8}, ["ID-A", "ID-G", "ID-L"]),  # J's 23 Jun order now counts
        ({"recent_purchase_days": None}, ["ID-A", "ID-G", "ID-I", "ID-J", "ID-L"]),
        ({"frequency_cap_days": 8}, ["ID-A", "ID-G", "ID-J"]),  # L's 23 Jun email now counts
        ({"frequency_cap_max": 2}, ["ID-A", "ID-G", "ID-J", "ID-K", "ID-L"]),
        ({"frequency_cap_days": None}, ["ID-A", "ID-G", "ID-J", "ID-K", "ID-L"]),
    ],
    ids=["purchase-8-days", "purchase-off", "cap-8-days", "cap-max-2", "cap-off"],
)
def test_rule_windows(engine: Engine, changes: dict[str, Any], expected_ids: list[str]) -> None:
    campaign = Campaign.model_validate({**WINBACK.model_dump(), **changes})
    audience = build_audience(
        engine, campaign, members=HAND_MEMBERS, as_of_date=AS_OF, suppression=HAND_SUPPRESSION
    )
    assert audience.export["customer_id"].tolist() == expected_ids


def test_sms_channel_uses_sms_consent_and_events(engine: Engine) -> None:
    campaign = Campaign(
        name="vip-sms",
        segments=("At risk",),
        channel="sms",
        trigger="in_segment",
        control_share=0.0,
    )
    audience = build_audience(engine, campaign, members=HAND_MEMBERS, as_of_date=AS_OF)
    # sms opt-in: C, D, F, G; G unsubscribed from sms before as_of; no purchase or sms send hits
    # C, D or F in the windows
    assert audience.export["customer_id"].tolist() == ["ID-C", "ID-D", "ID-F"]
    assert "no suppression list was given" in audience.notes


# -- consent is a property --------------------------------------------------------------------
# Event and order times in minutes from the end of as_of (2025-07-01 00:00): the first minute of
# each window (1, 3, 7, 10 days) and the minute before it, the last minute of as_of, and times
# after as_of (the end itself and a day later), which must not count yet.
MINUTES = st.sampled_from(
    [m for d in (1, 3, 7, 10) for m in (-d * 1440, -d * 1440 - 1)] + [-1, -600, -20000, 0, 1440]
)


@st.composite
def populations(draw: st.DrawFn) -> dict[str, Any]:
    """Customers who mostly pass, each with a few independent ways to break one rule."""
    campaign = Campaign(
        name="prop-campaign",
        segments=("At risk",),
        channel=draw(st.sampled_from(["email", "sms"])),
        trigger=draw(st.sampled_from(["in_segment", "entered"])),
        control_share=draw(st.sampled_from([0.3, 0.0, 0.7])),
        recent_purchase_days=draw(st.sampled_from([3, 1, 10, None])),
        frequency_cap_days=draw(st.sampled_from([7, 1, None])),
        frequency_cap_max=draw(st.sampled_from([1, 2])),
    )
    n = draw(st.integers(min_value=1, max_value=60))
    people = []
    for i in range(n):
        people.append(
            {
                "customer_id": f"CX-{i:03d}",
                "label": draw(st.sampled_from(["At risk"] * 8 + ["Loyal", None])),
                "previous": draw(st.sampled_from(["(absent)"] * 4 + ["Loyal"] * 4 + ["At risk"])),
                "row": draw(st.sampled_from(["true"] * 6 + ["false", "null", "none"])),
                "other_opt_in": draw(st.booleans()),
                "suppressed": draw(st.sampled_from([False] * 9 + [True])),
                "events": draw(
                    st.lists(
                        st.tuples(
                            MINUTES,
                            st.sampled_from(["email", "sms"]),
                            st.sampled_from(["sent", "unsubscribe", "open"]),
                        ),
                        max_size=3,
                    )
                ),
                "orders": draw(st.lists(st.tuples(MINUTES, st.booleans()), max_size=2)),
            }
        )
    return {"people": people, "campaign": campaign, "seed": draw(st.integers(0, 3))}


def _at(minutes: int) -> dt.datetime:
    return END + dt.timedelta(minutes=minutes)


def _tables(people: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    customers = customers_frame(
        [
            (
                p["customer_id"],
                {"true": True, "false": False, "null": None}[p["row"]],
                {"true": True, "false": False, "null": None}[p["row"]],
                p["other_opt_in"],
            )
            for p in people
            if p["row"] != "none"
        ]
    )
    events = events_frame(
        [
            (p["customer_id"], str(_at(m)), channel, kind)
            for p in people
            for m, channel, kind in p["events"]
        ]
    )
    transactions = transactions_frame(
        [(p["customer_id"], str(_at(m)), purchase) for p in people for m, purchase in p["orders"]]
    )
    return {"customers": customers, "events": events, "transactions": transactions}


def _violations(person: dict[str, Any], campaign: Campaign) -> set[str]:
    """Every rule a customer breaks, by brute force over their own rows."""
    broken = set()
    if person["label"] != "At risk":
        broken.add("not in segment")
    if campaign.trigger == "entered" and person["previous"] == "At risk":
        broken.add("not entered")
    if person["row"] != "true":
        broken.add("opted out")
    for m, channel, kind in person["events"]:
        if channel == campaign.channel and kind == "unsubscribe" and _at(m) < END:
            broken.add("unsubscribed")
    if person["suppressed"]:
        broken.add("suppressed")
    if campaign.recent_purchase_days is not None:
        since = END - dt.timedelta(days=campaign.recent_purchase_days)
        if any(p and since <= _at(m) < END for m, p in person["orders"]):
            broken.add("recent purchase")
    if campaign.frequency_cap_days is not None:
        since = END - dt.timedelta(days=campaign.frequency_cap_days)
        sends = sum(
            channel == campaign.channel and kind == "sent" and since <= _at(m) < END
            for m, channel, kind in person["events"]
        )
        if sends >= campaign.frequency_cap_max:
            broken.add("capped")
    return broken


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same examples on every run (no database, no wall-clock seed)
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(populations())
def test_no_opted_out_unsubscribed_suppressed_or_capped_customer_is_ever_exported(
    population: dict[str, Any],
) -> None:
    people, campaign = population["people"], population["campaign"]
    members = members_frame({p["customer_id"]: p["label"] for p in people})
    previous = members_frame(
        {p["customer_id"]: p["previous"] for p in people if p["previous"] != "(absent)"}
    )
    suppression = pd.DataFrame(
        {"customer_id": [p["customer_id"] for p in people if p["suppressed"]]}
    )
    with Engine(threads=1) as eng:
        for name, table in _tables(people).items():
            eng.register(name, table)
        audience = build_audience(
            eng,
            campaign,
            members=members,
            previous_members=previous,
            as_of_date=AS_OF,
            suppression=suppression,
            seed=population["seed"],
        )
    exported = set(audience.export["customer_id"])
    for person in people:
        broken = _violations(person, campaign)
        if person["customer_id"] in exported:
            assert not broken, (person["customer_id"], broken)
        else:
            assert broken, f"{person['customer_id']} passes every rule but was not exported"
    counts = funnel_counts(audience)
    steps = [counts[step] for step in FUNNEL_STEPS[:5]]
    assert steps == sorted(steps, reverse=True)
    assert counts["target"] + counts["control"] == counts["not_capped"] == len(exported)


# -- the control group --------------------------------------------------------------------------
def _all_consented(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = [f"CUST-{i:06d}" for i in range(n)]
    members = pd.DataFrame({"customer_id": ids, "segment": "Champions"})
    return members, customers_frame([(i, True, True, True) for i in ids])


VIP = Campaign(
    name="vip-push",
    segments=("Champions",),
    channel="push",
    trigger="in_segment",
    control_share=0.2,
    recent_purchase_days=None,
)


def test_control_share_within_binomial_tolerance() -> None:
    members, customers = _all_consented(20_000)
    with Engine(threads=1) as eng:
        eng.register("customers", customers)
        audience = build_audience(eng, VIP, members=members, as_of_date=AS_OF, seed=11)
    realised = audience.realised_control_share
    standard_error = np.sqrt(0.2 * 0.8 / 20_000)  # binomial, about 0.0028
    assert realised is not None and abs(realised - 0.2) < 4 * standard_error
    assert funnel_counts(audience)["control"] == int((audience.export["group"] == "control").sum())


def _reference_control(ids: list[str], *, seed: int, campaign: str, share: float) -> set[str]:
    """The documented draw recomputed with hashlib: md5 prefix, top 53 bits / 2^53 < share."""
    control = set()
    for customer_id in ids:
        digest = hashlib.md5(f"{seed}:{campaign}:{customer_id}".encode()).digest()
        if (int.from_bytes(digest[:8], "big") >> 11) / 2**53 < share:
            control.add(customer_id)
    return control


def test_control_is_deterministic_row_order_free_and_seeded(tmp_path: Path) -> None:
    members, customers = _all_consented(2_000)
    members.loc[0, "customer_id"] = "CUST-ünïcode"  # md5 of the UTF-8 bytes, as in hashlib
    customers.loc[0, "customer_id"] = "CUST-ünïcode"
    with Engine(threads=2) as eng:
        eng.register("customers", customers)
        first = build_audience(eng, VIP, members=members, as_of_date=AS_OF, seed=5)
        again = build_audience(eng, VIP, members=members, as_of_date=AS_OF, seed=5)
        shuffled = build_audience(
            eng, VIP, members=members.sample(frac=1.0, random_state=3), as_of_date=AS_OF, seed=5
        )
        other = build_audience(eng, VIP, members=members, as_of_date=AS_OF, seed=6)
    pd.testing.assert_frame_equal(first.export, again.export)
    pd.testing.assert_frame_equal(first.export, shuffled.export)

    def control(audience: Audience) -> set[str]:
        return set(audience.export.loc[audience.export["group"] == "control", "customer_id"])

    assert control(first) == _reference_control(
        members["customer_id"].tolist(), seed=5, campaign="vip-push", share=0.2
    )
    assert control(first) != control(other)
    # byte-identical files from two runs
    files = []
    for name, audience in (("one", first), ("two", again)):
        write_exports(RunFolder(tmp_path / name), [audience])
        files.append((tmp_path / name / "exports" / "vip-push.csv").read_bytes())
    assert files[0] == files[1]
    assert files[0].startswith(b"customer_id,campaign,segment,group,reason\n")


# -- trigger "entered" --------------------------------------------------------------------------
def test_entered_trigger(engine: Engine) -> None:
    members = members_frame(
        {"ID-A": "At risk", "ID-G": "Hibernating", "ID-J": "At risk", "ID-L": "At risk"}
    )
    previous = members_frame(
        {"ID-A": "At risk", "ID-G": "At risk", "ID-J": "Loyal"}  # L absent: entered
    )
    campaign = Campaign(
        name="winback-entered",
        segments=("At risk", "Hibernating"),
        channel="email",
        trigger="entered",
        control_share=0,
    )
    audience = build_audience(
        engine, campaign, members=members, previous_members=previous, as_of_date=AS_OF
    )
    # A stayed At risk and G moved between two target labels: neither entered
    assert audience.export["customer_id"].tolist() == ["ID-J", "ID-L"]
    assert set(audience.export["reason"]) == {"entered At risk since 2025-04-01"}  # 90 days
    assert audience.baseline_date == dt.date(2025, 4, 1)
    with_date = build_audience(
        engine,
        campaign,
        members=members,
        previous_members=previous,
        previous_as_of_date="2025-05-31",
        as_of_date=AS_OF,
    )
    assert set(with_date.export["reason"]) == {"entered At risk since 2025-05-31"}
    assert any("2025-05-31" in note for note in with_date.notes)
    # the same members with trigger in_segment: everyone in a target label
    in_segment = Campaign(
        name="winback-all",
        segments=("At risk", "Hibernating"),
        channel="email",
        trigger="in_segment",
        control_share=0,
    )
    everyone = build_audience(engine, in_segment, members=members, as_of_date=AS_OF)
    assert everyone.export["customer_id"].tolist() == ["ID-A", "ID-G", "ID-J", "ID-L"]
    assert set(everyone.export["segment"]) == {"At risk", "Hibernating"}


def test_entered_without_previous_membership_fails(engine: Engine) -> None:
    campaign = Campaign(
        name="winback-entered", segments=("At risk",), channel="email", trigger="entered"
    )
    with pytest.raises(ValueError, match="winback-entered.*previous_members"):
        build_audience(engine, campaign, members=HAND_MEMBERS, as_of_date=AS_OF)
    with pytest.raises(ValueError, match="not before as_of_date"):
        build_audience(
            engine,
            campaign,
            members=HAND_MEMBERS,
            previous_members=HAND_MEMBERS,
            previous_as_of_date=AS_OF,
            as_of_date=AS_OF,
        )


def test_other_label_column(engine: Engine) -> None:
    members = pd.DataFrame(
        {"customer_id": ["ID-A", "ID-G", "ID-J"], "risk_band": ["high", "low", "high"]}
    )
    campaign = Campaign(
        name="save-high",
        segments=("high",),
        channel="email",
        trigger="in_segment",
        control_share=0,
        label_column="risk_band",
    )
    audience = build_audience(engine, campaign, members=members, as_of_date=AS_OF)
    assert audience.export["customer_id"].tolist() == ["ID-A", "ID-J"]
    assert set(audience.export["reason"]) == {"in risk band high"}
    with pytest.raises(DataContractError, match="members: column 'risk_band' is missing"):
        build_audience(engine, campaign, members=HAND_MEMBERS, as_of_date=AS_OF)


# -- missing or bad inputs ------------------------------------------------------------------------
def test_missing_customers_view_fails_closed() -> None:
    with Engine(threads=1) as eng:
        eng.register("events", HAND_EVENTS)
        eng.register("transactions", HAND_TRANSACTIONS)
        audience = build_audience(eng, WINBACK, members=HAND_MEMBERS, as_of_date=AS_OF)
    assert audience.export.empty
    assert list(audience.export.columns) == list(EXPORT_COLUMNS)
    counts = funnel_counts(audience)
    assert counts["in_segment"] == 12 and counts["consented"] == 0 and counts["target"] == 0
    assert any("no customers table" in note and "nobody" in note for note in audience.notes)


def test_customers_without_the_channel_flag_fails_closed(engine: Engine) -> None:
    engine.register("customers", HAND_CUSTOMERS.drop(columns="push_opt_in"))
    campaign = Campaign(
        name="app-push",
        segments=("At risk",),
        channel="push",
        trigger="in_segment",
        recent_purchase_days=None,
    )
    audience = build_audience(engine, campaign, members=HAND_MEMBERS, as_of_date=AS_OF)
    assert audience.export.empty
    assert any("push_opt_in" in note for note in audience.notes)
    engine.register("customers", HAND_CUSTOMERS.assign(push_opt_in="yes"))
    with pytest.raises(DataContractError, match="customers: column 'push_opt_in' is VARCHAR"):
        build_audience(engine, campaign, members=HAND_MEMBERS, as_of_date=AS_OF)


def test_missing_events_view_gives_notes() -> None:
    with Engine(threads=1) as eng:
        eng.register("customers", HAND_CUSTOMERS)
        eng.register("transactions", HAND_TRANSACTIONS)
        audience = build_audience(
            eng, WINBACK, members=HAND_MEMBERS, as_of_date=AS_OF, suppression=HAND_SUPPRESSION
        )
    # without events F's unsubscribe and K's send are unknown: both are exported
    assert audience.export["customer_id"].tolist() == [
        "ID-A",
        "ID-F",
        "ID-G",
        "ID-J",
        "ID-K",
        "ID-L",
    ]
    (note,) = [n for n in audience.notes if "no events table" in n]
    assert "unsubscribes unknown" in note and "frequency cap was not checked" in note


def test_missing_transactions_view_is_named() -> None:
    with Engine(threads=1) as eng:
        eng.register("customers", HAND_CUSTOMERS)
        with pytest.raises(StageInputMissing, match="transactions"):
            build_audience(eng, WINBACK, members=HAND_MEMBERS, as_of_date=AS_OF)


def test_bad_members(engine: Engine) -> None:
    repeated = pd.concat([HAND_MEMBERS, HAND_MEMBERS.head(2)])
    with pytest.raises(
        DataContractError, match="2 customer_id values appear more than once"
    ) as err:
        build_audience(engine, WINBACK, members=repeated, as_of_date=AS_OF)
    assert "ID-A" not in str(err.value)  # no ids in messages
    blank = HAND_MEMBERS.assign(customer_id=[None] + HAND_MEMBERS["customer_id"].tolist()[1:])
    with pytest.raises(DataContractError, match="'customer_id' is empty on 1 rows"):
        build_audience(engine, WINBACK, members=blank, as_of_date=AS_OF)


# -- look-alike seed ------------------------------------------------------------------------------
def test_lookalike_seed_excludes_suppressed_and_withdrawn() -> None:
    members = members_frame(
        {
            "ID-P": "Champions",  # email consent: exported
            "ID-Q": "Champions",  # unsubscribed email, sms consent still live: exported
            "ID-R": "Champions",  # unsubscribed from the only channel it consented to
            "ID-S": "Champions",  # on the suppression list
            "ID-T": "Champions",  # never consented
            "ID-U": "Loyal",  # another segment
            "ID-V": "Champions",  # no customers row
        }
    )
    customers = customers_frame(
        [
            ("ID-P", True, False, None),
            ("ID-Q", True, True, False),
            ("ID-R", True, False, False),
            ("ID-S", True, True, True),
            ("ID-T", False, None, False),
            ("ID-U", True, True, True),
        ]
    )
    events = events_frame(
        [
            ("ID-Q", "2025-05-01 10:00", "email", "unsubscribe"),
            ("ID-R", "2025-05-01 10:00", "email", "unsubscribe"),
            ("ID-P", "2025-05-01 10:00", "sms", "unsubscribe"),  # P had no sms consent anyway
        ]
    )
    suppression = pd.DataFrame({"customer_id": ["ID-S"]})
    with Engine(threads=1) as eng:
        eng.register("customers", customers)
        eng.register("events", events)
        seed = lookalike_seed(eng, members=members, label="Champions", suppression=suppression)
        eng.con.unregister("events")
        without_events = lookalike_seed(eng, members=members, label="Champions")
        eng.con.unregister("customers")
        without_customers = lookalike_seed(eng, members=members, label="Champions")
    assert list(seed.columns) == list(LOOKALIKE_COLUMNS)
    assert seed["customer_id"].tolist() == ["ID-P", "ID-Q"]
    assert set(seed["reason"]) == {"in segment Champions (look-alike seed)"}
    assert seed.attrs["funnel"] == {"in_segment": 6, "consented": 3, "not_suppressed": 2}
    # signup flags only: R counts again, S is not suppressed without a list
    assert without_events["customer_id"].tolist() == ["ID-P", "ID-Q", "ID-R", "ID-S"]
    assert any("no events table" in note for note in without_events.attrs["notes"])
    assert without_customers.empty
    assert any("nobody" in note for note in without_customers.attrs["notes"])


# -- SQL portability ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["activation_audience", "activation_lookalike"])
def test_sql_transpiles_to_spark(name: str) -> None:
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: f"t_{m.group(1)}", load_sql(name))
    (spark,) = sqlglot.transpile(text, read="duckdb", write="spark")
    assert "UNHEX" in spark or "CROSS JOIN" in spark
