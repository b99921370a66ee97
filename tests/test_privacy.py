"""crmlib.privacy: the one small-cell rule, on known answers and invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlib.privacy import HIDDEN, MIN_CELL_SIZE, OTHER, SmallCells, small_counts_in_html

RULE = SmallCells(10)


def test_counts_below_the_limit_never_appear_as_numbers():
    shown = RULE.counts(pd.Series([0, 1, 9, 10, 11, 1234, np.nan]))
    assert shown.tolist() == ["0", "<10", "<10", "10", "11", "1,234", HIDDEN]
    assert RULE.is_small(np.array([[0, 5], [10, 9]])).tolist() == [[False, True], [False, True]]
    assert RULE.shown(0) and RULE.shown(10) and not RULE.shown(3)
    assert SmallCells(1).count(1) == "1"  # min_cell_size 1: nothing is hidden


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_the_limit_must_be_a_whole_number_of_at_least_one(bad):
    with pytest.raises(ValueError, match=r"privacy\.min_cell_size"):
        SmallCells(bad)


def test_the_default_limit_is_written_once():
    assert SmallCells().min_cell_size == MIN_CELL_SIZE == 10


def test_phrases_for_sentences():
    assert RULE.phrase(8) == "fewer than 10 customers"
    assert RULE.phrase(8, "recent buyer") == "fewer than 10 recent buyers"
    assert RULE.phrase(0) == "0 customers"
    assert RULE.phrase(1204) == "1,204 customers"
    assert SmallCells(1).phrase(1) == "1 customer"


def test_hide_blanks_every_value_of_a_small_group_but_keeps_its_size():
    table = pd.DataFrame(
        {"group": ["a", "b", "c"], "customers": [50, 4, 0], "rate": [0.5, 0.25, np.nan],
         "flag": [True, False, True]}
    )  # fmt: skip
    hidden = RULE.hide(table, size="customers")
    assert hidden["rate"].isna().tolist() == [False, True, True]
    assert hidden["customers"].tolist() == [50, 4, 0]
    assert hidden["flag"].tolist() == [True, False, True]  # booleans are not values of a group
    assert table["rate"].notna().sum() == 2  # the argument is not changed


@pytest.mark.parametrize("seed", range(40))
def test_pooling_keeps_the_whole_and_never_shows_a_small_group(seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 40, size=rng.integers(1, 12))
    table = pd.DataFrame(
        {"group": [f"g{i}" for i in range(sizes.size)], "customers": sizes,
         "revenue": sizes * 2.5}
    )  # fmt: skip
    pooled = RULE.pool(table, by="group", size="customers", sums=["revenue"])
    assert pooled["customers"].sum() == sizes.sum()  # nothing dropped
    assert pooled["revenue"].sum() == pytest.approx(sizes.sum() * 2.5)
    assert pooled["groups"].sum() == sizes.size
    visible = pooled[pooled["customers"] > 0]
    if (visible["group"] == OTHER).any():
        other = visible[visible["group"] == OTHER].iloc[0]
        assert other["groups"] >= 2  # never one group under another name
        if len(visible) > 1:  # a pool beside other groups is big enough
            assert other["customers"] >= 10
    if len(visible) > 1 or sizes.sum() >= 10:
        assert not RULE.is_small(visible["customers"]).any() or len(visible) == 1


def test_pool_labels_pools_per_customer_labels():
    labels = pd.Series(["web"] * 12 + ["app"] * 3 + ["tv"] * 8 + [None] * 2)
    shown = RULE.pool_labels(labels)
    assert shown.value_counts().to_dict() == {"web": 12, OTHER: 13}


def test_complementary_suppression_of_the_parts_of_a_shown_total():
    assert RULE.complement([40, 4, 30, 25]).tolist() == [False, True, False, True]
    assert RULE.complement([40, 4, 3]).tolist() == [False, True, True]
    # a zero cannot hide anything: the next smallest non-zero part goes instead
    assert RULE.complement([40, 4, 0]).tolist() == [True, True, False]
    assert RULE.complement([40, 4, 30], total_shown=False).tolist() == [False, True, False]


def _recoverable(hidden: pd.DataFrame, relations: dict[str, list[str]]) -> list[tuple]:
    """Cells alone in their relation: a reader recovers them by subtraction."""
    return [
        (row, total)
        for total, parts in relations.items()
        for row in hidden.index
        if hidden.loc[row, [total, *parts]].sum() == 1
    ]


def test_suppress_the_consent_table_hides_a_part_a_total_would_reveal():
    table = pd.DataFrame(
        {"channel": ["email", "sms", "push"], "signed_up": [300, 300, 300],
         "opted_in": [161, 80, 104], "unsubscribed": [5, 0, 12], "contactable": [156, 80, 92],
         "opted_in_rate": [161 / 300, 80 / 300, 104 / 300]}
    )  # fmt: skip
    shown = RULE.suppress(
        table,
        counts=["signed_up", "opted_in", "unsubscribed", "contactable"],
        parts={"opted_in": ["unsubscribed", "contactable"]},
        rates={"opted_in_rate": "opted_in"},
    )
    assert shown.loc[0, ["opted_in", "unsubscribed", "contactable"]].tolist() == [
        "161", "<10", HIDDEN,
    ]  # fmt: skip
    assert shown.loc[0, "opted_in_rate"] == "53.7%"  # its count is shown
    assert shown.loc[1].tolist()[1:] == ["300", "80", "0", "80", "26.7%"]
    assert shown.loc[2, "unsubscribed"] == "12"


@pytest.mark.parametrize("seed", range(30))
def test_suppress_leaves_no_hidden_cell_alone_in_its_relation(seed):
    rng = np.random.default_rng(seed)
    n = 6
    unsub, cont = rng.integers(0, 15, n), rng.integers(0, 40, n)
    table = pd.DataFrame({"opted": unsub + cont, "unsub": unsub, "cont": cont})
    relations = {"opted": ["unsub", "cont"]}
    shown = RULE.suppress(table, counts=["opted", "unsub", "cont"], parts=relations)
    hidden = shown.isin([RULE.below, HIDDEN])
    assert _recoverable(hidden, relations) == []
    assert not any(cell.isdigit() and 1 <= int(cell) < 10 for cell in shown.to_numpy().ravel())


def test_suppress_names_a_missing_column():
    with pytest.raises(ValueError, match=r"\['nope'\]"):
        RULE.suppress(pd.DataFrame({"a": [1]}), counts=["nope"])


# -- the page reader -------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in ["", *header])
    body = "".join(
        "<tr><th>" + row[0] + "</th>" + "".join(f"<td>{c}</td>" for c in row[1:]) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def test_the_page_reader_finds_small_counts_in_count_columns_only():
    page = _table(
        ["customers", "revenue (EUR)", "share of customers", "Customers (variant / control)",
         "high_risk_customers", "CLV per customer (EUR)", "no customer id"],
        [["web", "40", "7", "7%", "29 / 8", "3", "€5", "2"],
         ["app", "<10", "3", "1%", "12 / 1,204", "0", "€9", "1"]],
    )  # fmt: skip
    found = small_counts_in_html(page)
    assert found == [
        "table 1, column 'Customers (variant / control)', row 'web': 29 / 8",
        "table 1, column 'high_risk_customers', row 'web': 3",
    ]


def test_the_page_reader_reads_sentences_and_details_but_not_code():
    page = (
        "<p>The largest move was up (8 customers); 2 repeat customers bought late.</p>"
        "<p>1 customer id was missing; 12 customers left; 3.5 customers per day.</p>"
        "<details><summary>more</summary>4 customers</details><code>5 customers</code>"
    )
    found = small_counts_in_html(page)
    assert len(found) == 3 and "(8 customers)" in found[0] and "2 repeat customers" in found[1]
    assert "4 customers" in found[2]  # a folded details block is one click from the reader
    assert small_counts_in_html(page, min_cell_size=2) == []


def test_the_page_reader_honours_a_named_index_row():
    page = (
        "<table><thead><tr><th></th><th>customers</th></tr>"
        "<tr><th>segment</th><th></th></tr></thead>"
        "<tbody><tr><th>Champions</th><td>5</td></tr></tbody></table>"
    )
    assert small_counts_in_html(page) == ["table 1, column 'customers', row 'Champions': 5"]


def test_hidden_cells_is_what_suppress_hides_and_missing_counts_are_said_as_unknown():
    table = pd.DataFrame({"total": [30, 12], "a": [4, 6], "b": [26, 6]})
    hidden = RULE.hidden_cells(table, counts=["total", "a", "b"], parts={"total": ["a", "b"]})
    shown = RULE.suppress(table, counts=["total", "a", "b"], parts={"total": ["a", "b"]})
    assert hidden.to_numpy().tolist() == [[False, True, True], [False, True, True]]
    assert (shown.isin([RULE.below, HIDDEN]) == hidden).all().all()
    assert RULE.phrase(np.nan) == "an unknown number of customers"


def test_keep_hides_another_cell_of_the_relation_first():
    table = pd.DataFrame({"opted": [161], "unsub": [5], "cont": [156], "rate": [0.537]})
    relation = {"opted": ["unsub", "cont"]}
    default = RULE.suppress(table, counts=["opted", "unsub", "cont"], parts=relation)
    kept = RULE.suppress(
        table, counts=["opted", "unsub", "cont"], parts=relation, rates={"rate": "opted"},
        keep=["cont"],
    )  # fmt: skip
    assert default.loc[0, ["opted", "unsub", "cont"]].tolist() == ["161", "<10", HIDDEN]
    assert kept.loc[0, ["opted", "unsub", "cont", "rate"]].tolist() == [
        HIDDEN,
        "<10",
        "156",
        HIDDEN,
    ]


def test_the_page_reader_reads_a_figure_under_its_label():
    tiles = (
        '<article><p class="label">New customers</p><p class="value">7</p></article>'
        '<article><p class="label">Active customers</p><p class="value">1,204</p></article>'
        '<article><p class="label">Revenue per customer</p><p class="value">7</p></article>'
    )
    assert small_counts_in_html(tiles) == ["figure 'New customers': 7"]


def test_words_states_what_the_rule_allows_in_a_sentence():
    words = RULE.words({"total": 40, "a": 31, "b": 6, "c": 3}, parts={"total": ["a", "b", "c"]})
    assert words == {"total": "40", "a": "31", "b": "fewer than 10", "c": "fewer than 10"}
    words = RULE.words({"total": 40, "a": 34, "b": 6, "c": 0}, parts={"total": ["a", "b", "c"]})
    assert words == {"total": "40", "a": None, "b": "fewer than 10", "c": "0"}
    assert SmallCells(25).words({"n": 1234, "m": 0}) == {"n": "1,234", "m": "0"}
