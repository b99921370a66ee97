"""The tables of the report: one presenter (crmlib.formatting), and every page's tables read.

First the number formats and :func:`crmlib.formatting.present` on hand-made tables with
known answers (headers with units, the label as index, counts, money in the run's currency,
percentages, "–" for missing, yes/no, the small-cell rule kept), then the page-table reader
of this file on inline HTML, then the display tables of 05_clv and 06_churn on small inline
data, and last (slow) every table of every page of a real run on the embedded sample: no
raw float with more than 4 decimals, no ``NaN``/``nan``/``None``/``True``/``False`` cell and
no snake_case header.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmlib import churn, clv
from crmlib.clv import FittedModel
from crmlib.formatting import (
    Column,
    details,
    format_count,
    format_date,
    format_flag,
    format_number,
    format_percent,
    present,
)
from crmlib.privacy import HIDDEN, small_counts_in_html
from crmlib.report import TEMPLATES_DIR

# -- the page check ----------------------------------------------------------------------------
#: A number printed with more than 4 decimals: a float nobody formatted (-3477.155852).
RAW_FLOAT = re.compile(r"(?<![\d.])\d+\.\d{5,}(?!\d)")
#: A whole cell that is a Python or pandas repr of a missing value or a boolean.
REPR_CELL = re.compile(r"NaN|nan|None|True|False|NaT|<NA>")
#: A header that is a column name, not words: log_likelihood, n_customers, clv_total.
SNAKE_HEADER = re.compile(r"[a-z]+_[a-z]")


@dataclass
class PageTable:
    """One ``<table>`` of a page: its header cells and its body rows (cell texts)."""

    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


class _TableReader(HTMLParser):
    """Every table of a page: cells in ``<thead>`` (or the first row, without one) are
    headers, the other rows are the body (the row labels, ``<th>`` in the body, included)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[PageTable] = []
        self._open: list[tuple[PageTable, bool]] = []  # (table, has seen a <thead>)
        self._in_head = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._head_rows: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            table = PageTable()
            self.tables.append(table)
            self._open.append((table, False))
        elif tag == "thead" and self._open:
            self._in_head = True
            self._open[-1] = (self._open[-1][0], True)
        elif tag == "tr" and self._open:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._open:
            table, has_head = self._open[-1]
            if self._in_head or (not has_head and not table.header and not table.rows):
                table.header.extend(self._row)
            else:
                table.rows.append(self._row)
            self._row = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "table" and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def page_tables(html: str) -> list[PageTable]:
    """The tables of a page, as a reader sees them (text of each header and body cell)."""
    reader = _TableReader()
    reader.feed(html)
    reader.close()
    return reader.tables


def table_problems(html: str) -> list[str]:
    """One line per table cell a stakeholder should not see: a raw float, a repr, a
    snake_case header (``table 3, header 'log_likelihood'``)."""
    found = []
    for number, table in enumerate(page_tables(html), start=1):
        found += [
            f"table {number}, header {cell!r}: snake_case" for cell in table.header
            if SNAKE_HEADER.search(cell)
        ]  # fmt: skip
        for row in table.rows:
            label = row[0] if row else ""
            for cell in row:
                if RAW_FLOAT.search(cell):
                    found.append(f"table {number}, row {label!r}: raw float {cell!r}")
                elif REPR_CELL.fullmatch(cell):
                    found.append(f"table {number}, row {label!r}: repr {cell!r}")
    return found


# -- number formats ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (format_number(-3477.155852, decimals=1), "\u22123,477.2"),
        (format_number(0.519713, digits=4), "0.5197"),
        (format_number(132357.302768, digits=4), "132,357"),  # from 10,000 up: whole
        (format_number(-0.0004, decimals=3), "0.000"),  # no minus on a zero
        (format_number(np.inf), HIDDEN),
        (format_count(1048), "1,048"),
        (format_count(682.556257), "683"),
        (format_count(None), HIDDEN),
        (format_percent(0.513916), "51.4%"),
        (format_percent(-0.182, decimals=0), "\u221218%"),
        (format_percent(np.nan), HIDDEN),
        (format_flag(np.True_), "yes"),
        (format_flag(False), "no"),
        (format_date(dt.date(2025, 7, 4)), "2025-07-04"),
        (format_date(pd.Timestamp("2025-07-04")), "2025-07-04"),
        (format_date(pd.NaT), HIDDEN),
    ],
    ids=["number-decimals", "number-digits", "number-large", "negative-zero", "infinite",
         "count", "count-float", "count-missing", "percent", "percent-negative",
         "percent-missing", "flag-yes", "flag-no", "date", "timestamp", "date-missing"],
)  # fmt: skip
def test_formats_by_hand(text: str, expected: str) -> None:
    assert text == expected


# -- the presenter -----------------------------------------------------------------------------
def _fits() -> pd.DataFrame:
    """A parameter table as the stages build it: snake_case names, raw numbers, NaN, bools."""
    return pd.DataFrame(
        {
            "model": ["bgnbd", "paretonbd", "nbd"],
            "log_likelihood": [-3477.155852, -3479.1, np.nan],
            "clv_total": [12345.6, 950.0, -0.3],
            "share_of_clv": [0.513916, 0.486084, 0.0],
            "n_customers": [1234, 7, 0],
            "n_patterns": [900, 5, 0],
            "converged": [True, False, True],
            "n_params": [4, 4, 2],
        }
    )


FIT_COLUMNS = {
    "model": Column("Model"),
    "log_likelihood": Column("Log-likelihood", "number", decimals=1),
    "clv_total": Column("CLV total", "money"),
    "share_of_clv": Column("Share of CLV", "percent"),
    "n_customers": Column("Customers", "customers"),
    "n_patterns": Column("Distinct patterns", "count"),
    "converged": Column("Converged", "flag"),
}


def test_present_a_table_by_hand() -> None:
    shown = present(_fits(), columns=FIT_COLUMNS, index="model", currency="EUR", min_cell_size=10)
    expected = pd.DataFrame(
        {
            "Log-likelihood": ["\u22123,477.2", "\u22123,479.1", "\u2013"],
            "CLV total (EUR)": ["€12.3k", "€950", "€0"],  # -0.3 rounds to €0: no sign
            "Share of CLV (%)": ["51.4%", "48.6%", "0.0%"],
            "Customers": ["1,234", "<10", "0"],  # the small-cell rule: 7 reads "<10"
            "Distinct patterns": ["900", "5", "0"],
            "Converged": ["yes", "no", "yes"],
        },
        index=pd.Index(["bgnbd", "paretonbd", "nbd"], name="Model", dtype="object"),
        dtype="object",
    )
    pd.testing.assert_frame_equal(shown, expected)
    assert "n_params" not in shown.columns and "Parameters" not in shown.columns  # left out
    assert table_problems(_fits().to_html()) != []  # the raw table fails the page check
    assert table_problems(shown.to_html()) == []
    assert small_counts_in_html(shown.to_html()) == []


def test_present_speaks_the_runs_currency() -> None:
    shown = present(_fits(), columns=FIT_COLUMNS, index="model", currency="GBP", min_cell_size=10)
    assert "CLV total (GBP)" in shown.columns
    assert shown["CLV total (GBP)"].tolist() == ["£12.3k", "£950", "£0"]
    negative = present(pd.DataFrame({"x": ["a"], "v": [-1500.0]}),
                       columns={"x": Column("X"), "v": Column("Net", "money")},
                       currency="CHF")  # fmt: skip
    assert negative["Net (CHF)"].tolist() == ["\u2212CHF 1.5k"]


def test_present_keeps_what_the_small_cell_rule_wrote() -> None:
    table = pd.DataFrame(
        {
            "segment": ["Loyal", "At risk", "(other)"],
            "customers": [734, 148, 22],
            "high_risk_customers": pd.Series(["17", "<10", HIDDEN], dtype="object"),
            "mean_p_churn": [0.288885, np.nan, 0.549],  # NaN: hidden upstream
        }
    )
    shown = present(
        table,
        columns={
            "segment": Column("RFM segment"),
            "customers": Column("Customers", "customers"),
            "high_risk_customers": Column("High-risk customers", "customers"),
            "mean_p_churn": Column("Mean P(churn)", "percent"),
        },
        index="segment",
        min_cell_size=10,
    )
    assert shown["High-risk customers"].tolist() == ["17", "<10", HIDDEN]
    assert shown["Mean P(churn) (%)"].tolist() == ["28.9%", HIDDEN, "54.9%"]
    assert shown["Customers"].tolist() == ["734", "148", "22"]
    assert small_counts_in_html(shown.to_html()) == []
    # at a limit of 25, the counts below it are hidden as well
    wider = present(table, columns={"segment": Column("RFM segment"),
                                    "customers": Column("Customers", "customers")},
                    min_cell_size=25)  # fmt: skip
    assert wider["Customers"].tolist() == ["734", "148", "<25"]


def test_present_finds_the_labels() -> None:
    indexed = _fits().set_index("model")
    by_level = present(indexed, columns=FIT_COLUMNS, currency="EUR", min_cell_size=10)
    assert by_level.index.name == "Model" and by_level.index.tolist()[0] == "bgnbd"
    # a plain 0, 1, 2 index: the first described column labels the rows
    first = present(_fits(), columns=FIT_COLUMNS, currency="EUR", min_cell_size=10)
    assert first.index.tolist() == ["bgnbd", "paretonbd", "nbd"]
    # an index level without a Column reads as words
    table = pd.DataFrame({"acquisition_channel": ["web", "shop"], "orders": [1200, 340]})
    shown = present(table, columns={"orders": Column("Orders", "count")},
                    index="acquisition_channel")  # fmt: skip
    assert shown.index.name == "Acquisition channel" and shown["Orders"].tolist() == [
        "1,200",
        "340",
    ]
    # two label columns: a MultiIndex named by their headers
    two = present(
        pd.DataFrame({"experiment_id": ["e", "e"], "variant": ["a", "b"], "n": [120, 130]}),
        columns={"experiment_id": Column("Experiment"), "variant": Column("Variant"),
                 "n": Column("Customers", "customers")},
        index=["experiment_id", "variant"], min_cell_size=10,
    )  # fmt: skip
    assert list(two.index.names) == ["Experiment", "Variant"]
    assert two["Customers"].tolist() == ["120", "130"]


def test_present_headers_carry_their_unit_once() -> None:
    assert Column("CLV total", "money").title(currency="USD") == "CLV total (USD)"
    assert Column("Share of CLV (%)", "percent").title() == "Share of CLV (%)"
    assert Column("MAE", "number", unit="purchases per customer").title() == (
        "MAE (purchases per customer)"
    )
    assert Column("Orders", "count").title() == "Orders"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: present(_fits(), columns=FIT_COLUMNS, index="model", min_cell_size=10),
         "currency"),
        (lambda: present(_fits(), columns=FIT_COLUMNS, index="model", currency="EUR"),
         "min_cell_size"),
        (lambda: present(_fits(), columns={"aic": Column("AIC", "number")}, index="model"),
         r"columns \['aic'\] are not in the table"),
        (lambda: present(_fits(), columns={"model": Column("Model")}, index="label"),
         r"index \['label'\]"),
        (lambda: present(_fits(), columns={"n_params": Column("Parameters", "count"),
                                           "n_patterns": Column("Parameters", "count")},
                         index="model"), "read the same"),
        (lambda: Column("Customers", "count"), "kind='customers'"),
        (lambda: Column("Share of customers", "customers"), "must name customers"),
        (lambda: Column("Buyers", "customers"), "must name customers"),
        (lambda: Column("Churned", "ratio"), "unknown kind"),
        (lambda: Column("Churned", "percent", digits=2), "digits"),
        (lambda: Column(" ", "text"), "header is empty"),
    ],
    ids=["money-without-currency", "customers-without-limit", "unknown-column",
         "unknown-index", "same-header", "customers-as-count", "share-as-customers",
         "buyers-as-customers", "unknown-kind", "digits-on-percent", "empty-header"],
)  # fmt: skip
def test_present_rejects_what_a_page_cannot_show(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]


# -- the page reader -----------------------------------------------------------------------------
def test_page_reader_on_inline_html() -> None:
    raw = _fits().to_html()  # pandas' own table: positional index, names, raw numbers
    problems = table_problems(raw)
    assert "table 1, header 'log_likelihood': snake_case" in problems
    assert "table 1, row '0': raw float '-3477.155852'" in problems
    assert "table 1, row '2': repr 'NaN'" in problems
    assert "table 1, row '0': repr 'True'" in problems
    markdown = (
        "<table><thead><tr><th>Metric</th><th>Value</th></tr></thead><tbody>"
        "<tr><td>Features</td><td>recency_days, orders_30d</td></tr>"
        "<tr><td>Brier</td><td>0.182 (0.176–0.190)</td></tr></tbody></table>"
    )
    tables = page_tables(markdown)
    assert tables[0].header == ["Metric", "Value"] and len(tables[0].rows) == 2
    assert table_problems(markdown) == []  # snake_case in a cell is a value, not a header
    headless = "<table><tr><td>n_customers</td></tr><tr><td>None</td></tr></table>"
    assert table_problems(headless) == [
        "table 1, header 'n_customers': snake_case",
        "table 1, row 'None': repr 'None'",
    ]


# -- the display tables of 05_clv and 06_churn ------------------------------------------------
def test_clv_tables_for_the_page() -> None:
    bg = FittedModel("bgnbd", "week", {"r": 0.519713, "alpha": 2.892724, "a": 0.843724,
                     "b": 15.591545}, -66174.651384, 3946, 3435, True, (), (), None, None)  # fmt: skip
    pareto = FittedModel("paretonbd", "week", {"r": 0.656788, "alpha": 3.877396, "s": 1.375719,
                         "beta": 139.704896}, -66262.7, 8, 8, False, (), (), None, None)  # fmt: skip
    fits = clv.fits_table([bg, pareto], min_cell_size=10)
    assert list(fits.columns) == ["r", "alpha (weeks)", "a", "b", "s", "beta (weeks)",
                                  "Log-likelihood", "AIC", "BIC", "Customers",
                                  "Distinct purchase patterns", "Converged"]  # fmt: skip
    assert fits.loc["Pareto/NBD"].tolist() == [
        "0.6568", "3.877", HIDDEN, HIDDEN, "1.376", "139.7", "\u221266,262.7", "132,533.4",
        "132,533.7", "<10", "8", "no",
    ]  # fmt: skip  # AIC = 2*4 + 2*66262.7; BIC = 4 ln 8 + 2*66262.7
    predictions = pd.DataFrame({"frequency_cal": [0] * 12 + [3] * 4 + [7] * 8,
                                "predicted_holdout_purchases": 1.5,
                                "actual_holdout_purchases": 1})  # fmt: skip
    errors = clv.errors_table(predictions, min_cell_size=10)
    # 3-4 (4 customers) and 5-9 (8) are merged into 3-9 (12); empty buckets stay, with 0
    assert errors.index.tolist() == ["0", "1", "2", "3\u20139", "10+"]
    assert errors["Customers"].tolist() == ["12", "0", "0", "12", "0"]
    assert errors.loc["3\u20139", "Bias: predicted − actual (purchases per customer)"] == "0.500"
    assert errors.loc["1", "MAE (purchases per customer)"] == HIDDEN  # no customer: no error
    ids = [f"c{i}" for i in range(30)]
    values = pd.DataFrame({"customer_id": ids, "clv": [100.0] * 20 + [2.5] * 10})
    groups = pd.DataFrame(
        {"customer_id": ids, "segment": ["Loyal"] * 20 + ["New"] * 6 + ["Lost"] * 4}
    )
    by_segment = clv.group_table(values, groups, by="segment", currency="EUR", min_cell_size=10)
    assert by_segment.index.name == "RFM segment"
    assert by_segment.loc["(other)"].tolist() == ["10", "€25", "€2.50", "1.2%", "33.3%", "2"]
    for table in (fits, errors, by_segment):
        assert table_problems(table.to_html()) == [], table
        assert small_counts_in_html(table.to_html()) == []


def test_churn_tables_for_the_page() -> None:
    comparison = pd.DataFrame({"model": ["logistic", "hist_gradient_boosting"],
                               "log_loss": [0.588255, 0.622556], "brier": [0.182466, 0.189357],
                               "roc_auc": [0.819946, 0.809897], "pr_auc": [0.745571, 0.737468],
                               "n": [3472, 3472], "churn_rate": [0.44038, 0.44038]})  # fmt: skip
    training = churn.ChurnTraining({}, comparison, "logistic", None, None, None, ())
    models = churn.comparison_table(training, min_cell_size=10)
    assert models is not None and models.index.name == "Model"
    assert models.loc["hist_gradient_boosting"].tolist() == [
        "0.623", "0.189", "0.810", "0.737", "3,472", "44.0%", "no"
    ]  # fmt: skip
    fallback = churn.ChurnTraining({}, pd.DataFrame(), "recency rule", None, None, "few", ())
    assert churn.comparison_table(fallback, min_cell_size=10) is None
    sizes = {"Loyal": (40, 0.2), "Lost": (30, 0.9), "At risk": (15, 0.9), "New": (4, 0.9),
             "Tiny": (8, 0.5)}  # fmt: skip
    frame = pd.DataFrame({
        "segment": [name for name, (n, _) in sizes.items() for _ in range(n)],
        "p_churn": [p for n, p in sizes.values() for _ in range(n)],
        "value": 100.0,
    })  # fmt: skip
    by_segment = churn.value_at_risk_by(frame, by="segment", min_cell_size=10)
    risk = churn.value_at_risk_table(by_segment, currency="EUR", min_cell_size=10)
    assert risk.index.name == "RFM segment"
    assert risk.loc["Lost", ["Customers", "Mean P(churn) (%)", "Value at risk (EUR)",
                             "High-risk customers", "Groups"]].tolist() == [
        "30", "90.0%", "€2.7k", "30", "1"
    ]  # fmt: skip
    # New (4) and Tiny (8) pooled into (other): its 4 High-risk customers read "<10", and
    # the next smallest High-risk count (At risk, 15) is hidden with it: the High band is shown
    assert risk.loc["(other)", "High-risk customers"] == "<10"
    assert risk.loc["At risk", "High-risk customers"] == HIDDEN
    bands = churn.band_table(churn.band_summary(frame), currency="EUR", min_cell_size=10)
    assert bands.index.tolist() == ["Low", "Medium", "High"]
    assert bands.loc["Medium"].tolist() == ["40% <= p < 70%", "<10", HIDDEN, HIDDEN, HIDDEN, HIDDEN]
    for table in (models, risk, bands):
        assert table_problems(table.to_html()) == [], table
        assert small_counts_in_html(table.to_html()) == []


# -- phones ------------------------------------------------------------------------------------
def test_wide_tables_scroll_in_their_own_box() -> None:
    """A table wider than a phone scrolls inside its output area (or itself, in markdown)."""
    css = (TEMPLATES_DIR / "report.css").read_text(encoding="utf-8")
    rules = {
        selector.strip(): body
        for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", css)
    }  # fmt: skip
    output = rules["body.wb-stage .jp-OutputArea-output"]
    markdown = rules["body.wb-stage .jp-RenderedMarkdown table"]
    assert "overflow-x: auto" in output and "max-width: 100%" in output
    assert "overflow-x: auto" in markdown and "display: block" in markdown


# -- every page of a real run ----------------------------------------------------------------
@pytest.mark.slow
def test_every_table_of_every_page_reads_as_words(
    sample_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, outputs = sample_run
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = outputs / "sample"
    pages = [run_dir / "index.html", *sorted((run_dir / "html").glob("[0-9][0-9]_*.html"))]
    assert len(pages) == 8, [page.name for page in pages]
    problems = []
    tables = 0
    for page in pages:
        html = page.read_text(encoding="utf-8")
        tables += len(page_tables(html))
        problems += [f"{page.name}: {line}" for line in table_problems(html)]
    assert tables >= 20, f"only {tables} tables read: is the reader broken?"
    assert problems == [], "\n".join(problems)


@pytest.mark.slow
def test_analysts_notes_are_folded_on_the_pages(
    sample_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """05's fit notes and 06's training notes sit in closed <details> blocks, rendered as
    Markdown (bold, bullets); the stakeholder's text above them says only what converged."""
    result, outputs = sample_run
    assert result.returncode == 0, result.stderr[-2000:]
    html_dir = outputs / "sample" / "html"
    clv_page = (html_dir / "05_clv.html").read_text(encoding="utf-8")
    blocks = re.findall(r"<details( [^>]*)?>(.*?)</details>", clv_page, flags=re.S)
    assert len(blocks) >= 2, "05 has a fit-notes block per fitting section"
    assert all("open" not in (attributes or "") for attributes, _ in blocks)  # closed
    inside = " ".join(body for _, body in blocks)
    assert "<summary>Details: how each model was fitted</summary>" in inside
    assert "<strong>BG/NBD</strong> fitted on" in inside and "distinct patterns" in inside
    outside = re.sub(r"<details.*?</details>", "", clv_page, flags=re.S)
    assert "distinct patterns" not in outside and "converged on the first attempt" not in outside
    assert "BG/NBD, MBG/NBD and Pareto/NBD converged." in outside
    churn_page = (html_dir / "06_churn.html").read_text(encoding="utf-8")
    folded = re.findall(r"<details>(.*?)</details>", churn_page, flags=re.S)
    assert any("held out to calibrate" in body and "<li>" in body for body in folded)


def test_details_block_stays_whole_on_an_exported_page(tmp_path: Path) -> None:
    """The block :func:`crmlib.formatting.details` writes survives the report's exporter:
    one closed <details> holding the rendered notes (nbconvert re-parses raw HTML blocks when
    it embeds images, and closes a <details> left open at a blank line)."""
    import nbformat

    from crmlib.report import export_notebook_html

    text = "Visible.\n\n" + details("How it was fitted", ["**r** = 0.52", "converged"])
    output = nbformat.v4.new_output(
        "display_data", data={"text/markdown": text, "text/plain": "notes"}
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[output])])
    nbformat.write(notebook, tmp_path / "notes.ipynb")
    page = export_notebook_html(tmp_path / "notes.ipynb", tmp_path / "notes.html", title="t")
    blocks = re.findall(r"<details>(.*?)</details>", page.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1
    assert blocks[0].startswith("<summary>Details: how it was fitted</summary>")
    assert "<li><strong>r</strong> = 0.52</li>" in blocks[0] and "<li>converged</li>" in blocks[0]
    assert details("Nothing", []) == ""  # no notes: no block
