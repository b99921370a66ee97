"""crmlib.plotting: the house style is opt-in and formats money and shares."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # tests only: no display
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from crmlib.formatting import Sentence, currency_prefix, format_money
from crmlib.plotting import house_style, money_axis, percent_axis


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (0, "EUR", "€0"),
        (999.4, "EUR", "€999"),
        (1234.5, "GBP", "£1.2k"),
        (-2.5e6, "USD", "-$2.5M"),
        (3.2e9, "SEK", "SEK 3.2bn"),
        (float("nan"), "EUR", "–"),
        (None, "EUR", "–"),
        (-0.3, "GBP", "£0"),
        (-0.6, "GBP", "-£1"),
        (999.6, "GBP", "£1.0k"),
        (999_950, "USD", "$1.0M"),
        (-1234.5, "CHF", "-CHF 1.2k"),
    ],
    ids=[
        "zero", "hundreds", "thousands", "negative-millions", "unknown-symbol", "nan", "none",
        "rounds-to-zero-unsigned", "rounds-to-minus-one", "unit-after-rounding",
        "thousands-round-to-millions", "negative-iso-code",
    ],
)  # fmt: skip
def test_format_money(value, currency, expected):
    assert format_money(value, currency) == expected


def test_importing_crmlib_leaves_matplotlib_settings_alone():
    before = dict(matplotlib.rcParams)
    import crmlib
    import crmlib.plotting  # noqa: F401

    assert crmlib.plotting.HOUSE_STYLE  # the style exists but was not applied
    assert dict(matplotlib.rcParams) == before


def test_axis_formatters():
    with house_style():
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0.1, 0.5])
        percent_axis(ax)
        assert ax.yaxis.get_major_formatter()(0.25, 0) == "25%"
        money_axis(ax, "EUR")
        assert ax.yaxis.get_major_formatter()(1500, 0) == "€2k"
    plt.close(fig)


def test_format_money_has_no_default_currency():
    # a page must never fall back to a currency the run does not use
    with pytest.raises(TypeError, match="currency"):
        format_money(12.0)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("currency", "prefix"),
    [("GBP", "£"), ("EUR", "€"), ("USD", "$"), ("JPY", "¥"), ("CHF", "CHF ")],
)
def test_currency_prefix(currency, prefix):
    assert currency_prefix(currency) == prefix
    assert format_money(12.0, currency) == f"{prefix}12"


def test_money_axis_in_pounds():
    with house_style():
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 2500])
        money_axis(ax, "GBP", axis="x")
        assert ax.xaxis.get_major_formatter()(2500, 0) == "£2k"  # 2.5 rounds half to even
        assert ax.xaxis.get_major_formatter()(-400, 0) == "-£400"
    plt.close(fig)


def test_sentence_displays_as_markdown_not_as_a_repr():
    text = Sentence("No customers table: the profiles are skipped.")
    assert isinstance(text, str) and text == "No customers table: the profiles are skipped."
    assert text._repr_markdown_() == "No customers table: the profiles are skipped."
    # what a notebook shows: IPython prefers the markdown over the quoted text/plain repr
    from IPython.core.formatters import DisplayFormatter

    shown, _ = DisplayFormatter().format(text)
    assert shown["text/markdown"] == "No customers table: the profiles are skipped."
    assert shown["text/plain"] == "'No customers table: the profiles are skipped.'"
