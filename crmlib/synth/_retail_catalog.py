"""Parameters of the retail-log profile: the purchase process, the planted traits, the catalogue."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "COUNTRIES",
    "COUNTRY_P",
    "DISCOUNTS",
    "INVOICE_START",
    "LINE_AMOUNT_LIMIT_MILLI",
    "LIST_PRICE_P",
    "LIST_PRICES_PENCE",
    "QUANTITY_P",
    "QUANTITIES",
    "RETAIL",
    "RETAIL_COLUMNS",
    "RETAIL_END",
    "RETAIL_START",
    "RETAIL_VERSION",
    "Catalog",
    "csv_field",
    "draw_catalog",
]

# bump whenever the same seed gives a different retail log
RETAIL_VERSION = 1
RETAIL_START = "2024-01-01"  # default first day of the export
RETAIL_END = "2025-12-31"  # default last day of the export (the report's as_of_date)
#: The columns of the written log, in the style of the public "Online Retail II" export.
RETAIL_COLUMNS = [
    "Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country",
]  # fmt: skip
INVOICE_START = 489_434  # the first invoice number (as in Online Retail II)
LINE_AMOUNT_LIMIT_MILLI = 10_000_000  # every single line amount is below 10,000.000 (in milli-GBP)

# The planted traits. Rates are per week; shares are probabilities per invoice or per line.
RETAIL: dict[str, float] = dict(
    history_days=730,  # customers are acquired from this many days before the export's first day
    rate_r=1.5,  # purchase rate lambda ~ Gamma(r, alpha) per week, no dropout (NBD)
    rate_alpha_weeks=20.0,
    guest_line_share=0.25,  # share of all lines on guest invoices (no customer id)
    lines_extra_mean=7.0,  # lines per invoice = 1 + NegBin(lines_extra_n, mean lines_extra_mean)
    lines_extra_n=1.5,
    lines_max=100,
    zero_value_order_share=0.003,  # purchase invoices made only of zero-price lines
    zero_price_line_share=0.005,  # free items on ordinary invoices
    discount_line_share=0.03,  # lines at a discounted list price, rounded to 0.001
    cancellation_share=0.08,  # identified purchase invoices later cancelled (in part or in full)
    cancellation_full_share=0.7,  # a cancelled line returns its whole quantity
    cancellation_line_p=0.25,  # lines cancelled = 1 + Binomial(priced lines - 1, p)
    cancellation_same_day_share=0.4,  # else 1-30 days later
    wholesale_customer_share=0.01,  # customers who place large wholesale invoices
    wholesale_large_share=0.3,  # share of a wholesaler's invoices that are large
    wholesale_total_min=12_000.0,  # target total of a large invoice, uniform in [min, max]
    wholesale_total_max=30_000.0,
    wholesale_lines_min=20,
    wholesale_lines_max=60,
    seconds_per_line_min=0.5,  # lines of an invoice are written this fast: timestamps tick
    seconds_per_line_max=3.0,  # over minute boundaries (at most 3 minutes within an invoice)
    invoice_write_max_s=180.0,
    shop_open_hour=7.0,  # invoice times of day ~ Normal(12.5 h, 2.5 h) within opening hours
    shop_close_hour=20.0,
    n_products=1_200,
    zipf_exponent=0.8,
)

# typical list prices (pence) and their relative frequency
LIST_PRICES_PENCE = [29, 39, 42, 55, 65, 72, 85, 125, 145, 165, 195, 210, 255, 295, 325, 375, 425,
                     495, 595, 675, 795, 850, 995, 1275, 1495, 1695, 2495]  # fmt: skip
LIST_PRICE_P = [3, 3, 4, 5, 5, 4, 7, 8, 6, 7, 5, 6, 7, 6, 4, 5, 4, 4, 3, 2, 2, 2, 2, 1, 1, 1, 0.5]
QUANTITIES = [1, 2, 3, 4, 6, 8, 10, 12, 24, 48]
QUANTITY_P = [0.25, 0.15, 0.08, 0.10, 0.12, 0.05, 0.05, 0.12, 0.06, 0.02]
DISCOUNTS = [0.04, 0.08, 0.12, 0.15, 0.2]
COUNTRIES = ["United Kingdom", "EIRE", "Germany", "France", "Netherlands", "Spain", "Belgium",
             "Switzerland", "Portugal", "Australia", "Norway", "Channel Islands"]  # fmt: skip
COUNTRY_P = [0.85, 0.03, 0.025, 0.02, 0.015, 0.01, 0.01, 0.008, 0.007, 0.005, 0.005, 0.015]

_COLOURS = ["WHITE", "RED", "PINK", "BLUE", "GREEN", "IVORY", "BLACK", "SILVER", "GOLD", "PASTEL"]
_THEMES = ["RETROSPOT", "VINTAGE", "REGENCY", "PANTRY", "HEART", "SPOTTY", "FLORAL", "JUNGLE",
           "CHRISTMAS", "BIRD", "PAISLEY", "SKULL"]  # fmt: skip
_ITEMS = ["T-LIGHT HOLDER", "CAKE STAND", "LUNCH BAG", "JUMBO BAG", "TEA CUP AND SAUCER",
          "NAPKINS", "PARTY BUNTING", "DOORMAT", "ALARM CLOCK", "WALL ART", "MUG", "CANDLE",
          "HOT WATER BOTTLE", "PHOTO FRAME", "PLATE", "STORAGE JAR", "GIFT WRAP", "GIFT BOX",
          "CUSHION COVER", "NOTEBOOK", "BAKING CASES", "CHALKBOARD", "WATER BOTTLE",
          "PAPER CHAIN KIT", "TRINKET BOX"]  # fmt: skip
_SETS = ["", "SET OF 3 ", "SET OF 6 ", "SET/4 "]


@dataclass(frozen=True)
class Catalog:
    """The products: one element per product, in popularity order (product 0 sells most)."""

    stock_code: np.ndarray  # str, e.g. "85123A"
    description: np.ndarray  # str, some with a comma (quoted in the CSV)
    list_price_milli: np.ndarray  # int64, thousandths of a pound
    weight: np.ndarray  # relative popularity (Zipf-like)

    @property
    def n(self) -> int:
        """Number of products."""
        return int(self.stock_code.size)


def draw_catalog(rng: np.random.Generator, n_products: int) -> Catalog:
    """Draw ``n_products`` distinct products: stock codes, descriptions and list prices.

    Stock codes are five digits, a tenth with a letter suffix (``85123A``); descriptions are
    distinct word combinations, about 5% written ``ITEM, THEME DESIGN`` (a comma, so the CSV
    quotes them); list prices come from :data:`LIST_PRICES_PENCE`.
    """
    codes = rng.choice(90_000, n_products, replace=False) + 10_000
    suffix = rng.integers(0, 6, n_products)
    lettered = rng.random(n_products) < 0.1
    stock_code = np.array(
        [
            f"{code}{'ABCDEF'[s]}" if flag else str(code)
            for code, s, flag in zip(codes, suffix, lettered, strict=True)
        ],
        dtype=object,
    )
    sizes = (len(_SETS), len(_COLOURS), len(_THEMES), len(_ITEMS))
    combos = rng.choice(int(np.prod(sizes)), n_products, replace=False)
    s_idx, c_idx, t_idx, i_idx = np.unravel_index(combos, sizes)
    comma = rng.random(n_products) < 0.05
    description = np.array(
        [
            f"{_SETS[s]}{_ITEMS[i]}, {_COLOURS[c]} {_THEMES[t]} DESIGN"
            if flag
            else f"{_SETS[s]}{_COLOURS[c]} {_THEMES[t]} {_ITEMS[i]}"
            for s, c, t, i, flag in zip(s_idx, c_idx, t_idx, i_idx, comma, strict=True)
        ],
        dtype=object,
    )
    price_p = np.asarray(LIST_PRICE_P, dtype=float)
    price_idx = np.searchsorted(np.cumsum(price_p) / price_p.sum(), rng.random(n_products), "right")
    list_price_milli = np.asarray(LIST_PRICES_PENCE, dtype=np.int64)[price_idx] * 10
    weight = 1.0 / np.arange(1, n_products + 1) ** RETAIL["zipf_exponent"]
    return Catalog(stock_code, description, list_price_milli, weight)


def csv_field(text: str) -> str:
    """One CSV field as written: quoted (quotes doubled) when it holds a comma, quote or newline.

    Examples
    --------
    >>> csv_field("DOORMAT, RED RETROSPOT DESIGN")
    '"DOORMAT, RED RETROSPOT DESIGN"'
    >>> csv_field("RED RETROSPOT MUG")
    'RED RETROSPOT MUG'
    """
    if any(ch in text for ch in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text
