"""crmlib.plotting: the house style is opt-in and formats money and shares."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # tests only: no display
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from crmlib.plotting import format_money, house_style, money_axis, percent_axis  # noqa: E402


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
    ],
    ids=["zero", "hundreds", "thousands", "negative-millions", "unknown-symbol", "nan", "none"],
)
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
