"""The front page (write_index) and the notebook export, on metrics and notebooks built inline."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import nbformat
import pytest
from conftest import local_links, remote_references

from crmlib.config import WorkbookParams, load_params
from crmlib.report import StageEntry, export_notebook_html, notebook_title, write_index

# A 1x1 transparent PNG.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()

TILES = [
    {"key": "active_customers", "label": "Active customers", "value": 1234, "display": "1,234",
     "period_label": "Dec 2025", "vs_previous": {"change": 0.05, "display": "+5.0%"},
     "vs_year_ago": {"change": -0.1, "display": "-10.0%"}, "better": "up"},
    {"key": "churn_rate", "label": "Churn rate", "value": 0.12, "display": "12.0%",
     "period_label": "Dec 2025", "vs_previous": {"change": 0.01, "display": "+1.0 pp"},
     "vs_year_ago": None, "better": "down"},
]  # fmt: skip

FULL_METRICS = {
    "ingest": {
        "conclusion": "All files read.",
        "verdict": "warn",
        "verdict_text": "1.2% of rows rejected.",
    },
    "kpis": {"conclusion": "Retention is up.", "tiles": TILES},
    "cohorts": {"conclusion": "Newer cohorts retain better.", "status": "ok"},
}


@pytest.fixture
def params(tmp_path: Path) -> WorkbookParams:
    path = tmp_path / "params.yaml"
    path.write_text(
        "run_name: nightly\nas_of_date: 2025-12-31\ncurrency: GBP\nsource:\n  transactions:\n    path: tx.csv\n",
        encoding="utf-8",
    )
    return load_params(path)


def _stages(folder: Path, statuses: dict[str, str]) -> list[StageEntry]:
    entries = []
    for notebook, status in statuses.items():
        html = None
        if status != "not run":
            html = f"html/{notebook}.html"
            (folder / "html").mkdir(parents=True, exist_ok=True)
            (folder / html).write_text("<p>page</p>", encoding="utf-8")
        section = notebook.partition("_")[2]
        entries.append(
            StageEntry(
                notebook=notebook, section=section, title=section.title(), status=status, html=html
            )
        )
    return entries


def _write_metrics(folder: Path, metrics: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")


def test_full_metrics(tmp_path: Path, params: WorkbookParams) -> None:
    run = tmp_path / "run"
    _write_metrics(run, FULL_METRICS)
    stages = _stages(run, {"01_ingest": "ok", "02_kpis": "ok", "03_cohorts": "ok"})
    generated = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)

    index = write_index(run, params=params, stages=stages, generated=generated)

    html = index.read_text(encoding="utf-8")
    assert index == run / "index.html"
    assert "<title>Retention report · nightly</title>" in html
    for text in ("nightly", "2025-12-31", "GBP", "2026-01-02 03:04 UTC"):
        assert text in html
    assert (
        'class="wb-banner warn"' in html
        and "Data quality: warn" in html
        and "1.2% of rows rejected." in html
    )
    assert "Active customers" in html and "1,234" in html and "Dec 2025" in html
    # active customers up is good, down vs a year ago is bad; churn up is bad
    assert 'wb-change good" title="vs previous period: +5.0% (better)"' in html
    assert 'wb-change bad" title="vs year ago: -10.0% (worse)"' in html
    assert 'wb-change bad" title="vs previous period: +1.0 pp (worse)"' in html
    assert "n/a</b> vs year ago" in html
    for conclusion in ("All files read.", "Retention is up.", "Newer cohorts retain better."):
        assert conclusion in html
    assert set(local_links(html)) >= {
        "html/01_ingest.html",
        "html/02_kpis.html",
        "html/03_cohorts.html",
    }
    assert "<script" not in html and remote_references(html) == []


def test_missing_values_are_words_not_reprs(tmp_path: Path, params: WorkbookParams) -> None:
    from test_pages_words import PROSE_REPRS, findings, page_words

    run = tmp_path / "run"
    tiles = [
        # a tile whose value could not be computed (NaN in metrics.json) and has no display
        {"key": "aov", "label": "Average order value", "value": float("nan"), "display": None,
         "period_label": "Dec 2025", "vs_previous": {"change": float("nan"), "display": None},
         "vs_year_ago": None, "better": "up"},
        {"key": "revenue", "label": "Net revenue", "value": 1234.5, "display": "£1.2k",
         "period_label": "Dec 2025", "vs_previous": None, "vs_year_ago": None, "better": "up"},
    ]  # fmt: skip
    _write_metrics(run, {"kpis": {"conclusion": None, "tiles": tiles},
                         "cohorts": {"conclusion": float("nan")}})  # fmt: skip
    stages = _stages(run, {"02_kpis": "ok", "03_cohorts": "ok"})

    html = write_index(run, params=params, stages=stages).read_text(encoding="utf-8")

    words = page_words(html)
    assert findings(words.prose + "\n".join(words.attributes), PROSE_REPRS, where="index") == []
    assert '<p class="wb-tile-value">n/a</p>' in html and "£1.2k" in html
    assert html.count("No conclusion was recorded in metrics.json.") == 2


def test_partial_metrics(tmp_path: Path, params: WorkbookParams) -> None:
    run = tmp_path / "run"
    _write_metrics(
        run, {"ingest": {"conclusion": "Read.", "verdict": "pass", "verdict_text": "Clean."}}
    )
    stages = _stages(run, {"01_ingest": "ok", "02_kpis": "failed", "03_cohorts": "not run"})

    html = write_index(
        run, params=params, stages=stages, failure="notebook 02_kpis, cell 3"
    ).read_text(encoding="utf-8")

    assert "Data quality: pass" in html
    assert "KPI tiles are not available: 02_kpis has not run" in html
    assert "The notebook failed before recording a conclusion." in html
    assert "This stage has not run yet." in html
    assert "Run failed" in html and "notebook 02_kpis, cell 3" in html
    assert "html/03_cohorts.html" not in html  # no link to a page that does not exist
    assert "html/02_kpis.html" in html  # the failed notebook's page can be read


def test_skipped_stage_shows_why(tmp_path: Path, params: WorkbookParams) -> None:
    """A stage the inputs do not allow: its reason is the card's text, the card is greyed."""
    run = tmp_path / "run"
    _write_metrics(run, {"ab_test": {"conclusion": "Variant B wins."}})
    reason = "Skipped: 02 needs a transactions table (source.transactions)."
    stages = [
        StageEntry("02_kpis", "kpis", "KPIs", status="skipped", notes=(reason,)),
        *_stages(run, {"07_ab_test": "ok"}),
    ]
    html = write_index(run, params=params, stages=stages).read_text(encoding="utf-8")
    cards = html.split('<article class="wb-card')[1:]
    skipped = next(card for card in cards if "KPIs" in card)
    assert skipped.startswith(' not-run"') and reason in skipped
    assert ">skipped<" in skipped and "This stage has not run yet." not in html
    assert skipped.count(reason) == 1  # the reason is the text, not repeated as a note
    assert "Variant B wins." in html and "html/02_kpis.html" not in html
    assert (
        "KPI tiles are not available: 02_kpis was skipped: 02 needs a transactions table "
        "(source.transactions)." in html
    )
    assert "01_ingest has not run in this run folder." in html  # not among the stages given


def test_missing_metrics_and_no_stages(tmp_path: Path, params: WorkbookParams) -> None:
    run = tmp_path / "run"
    html = write_index(run, params=params, stages=[]).read_text(encoding="utf-8")
    assert "Data quality: not assessed" in html and "metrics.json is missing" in html
    assert "KPI tiles are not available" in html
    assert "No stages were found" in html
    assert 'href="metrics.json"' in html  # the footer still points at the machine-readable file


@pytest.mark.parametrize(
    "metrics",
    [
        {"ingest": "not a mapping", "kpis": {"tiles": "nope"}},
        {
            "kpis": {
                "tiles": [
                    None,
                    {"label": "Only a label"},
                    {"key": "k", "vs_previous": {"change": "x"}},
                    {
                        "key": "active_customers",
                        "value": [3],
                        "customers": "x",
                        "vs_previous": {"customers": {"a": 1}},
                    },
                ]  # fmt: skip
            }
        },
        {"ingest": {"verdict": "strange"}, "kpis": {"tiles": []}},
    ],
    ids=["wrong-types", "incomplete-tiles", "unknown-verdict"],
)
def test_malformed_metrics_do_not_crash(
    tmp_path: Path, params: WorkbookParams, metrics: dict
) -> None:
    run = tmp_path / "run"
    _write_metrics(run, metrics)
    html = write_index(run, params=params, stages=_stages(run, {"02_kpis": "ok"})).read_text(
        encoding="utf-8"
    )
    assert "Retention report" in html


def test_unreadable_metrics_json(tmp_path: Path, params: WorkbookParams) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text("{not json", encoding="utf-8")
    html = write_index(run, params=params, stages=[]).read_text(encoding="utf-8")
    assert "not assessed" in html


def test_everything_is_escaped(tmp_path: Path, params: WorkbookParams) -> None:
    run = tmp_path / "run"
    evil = "<script>alert('x')</script>"
    tile = {
        **TILES[0],
        "label": evil,
        "display": "<b>1</b>",
        "vs_previous": {"change": 1, "display": evil},
    }
    _write_metrics(
        run,
        {
            "ingest": {"verdict": "pass", "verdict_text": evil},
            "kpis": {"tiles": [tile]},
            "cohorts": {"conclusion": f"Cohorts {evil} & more"},
        },
    )
    stages = [
        StageEntry(notebook="03_cohorts", section="cohorts", title=f"Title {evil}", status="ok")
    ]
    html = write_index(run, params=params, stages=stages, failure=evil).read_text(encoding="utf-8")
    assert "<script" not in html and "<b>1</b>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "Cohorts &lt;script&gt;" in html and "&amp; more" in html


# --- notebook export --------------------------------------------------------------------------


def _executed_notebook(path: Path) -> Path:
    """A notebook as papermill leaves it: parameters, injected parameters, outputs of every kind."""
    notebook = nbformat.v4.new_notebook()

    def code(source: str, outputs: list, tags: list[str] | None = None) -> nbformat.NotebookNode:
        cell = nbformat.v4.new_code_cell(source, outputs=outputs, execution_count=1)
        if tags:
            cell.metadata["tags"] = tags
        return cell

    stream = nbformat.v4.new_output
    notebook.cells = [
        nbformat.v4.new_markdown_cell(
            "# KPIs: how is *retention* moving?\n\nSee [the docs](#section)."
        ),
        code("period: str = 'month'", [], ["parameters"]),
        code(
            "period = 'SECRET-INJECTED'",
            [stream("stream", name="stdout", text="SECRET-INJECTED\n")],
            ["injected-parameters"],
        ),
        code(
            "import crmlib as crm",
            [stream("stream", name="stderr", text="WARNING crmlib: noisy log\n")],
        ),
        code("print('hidden')", [stream("stream", name="stdout", text="REMOVED\n")], ["remove"]),
        code(
            "crm.plot(...)",
            [
                stream("stream", name="stdout", text="visible line\n"),
                stream("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
            ],
        ),
        nbformat.v4.new_markdown_cell("Retention rose by 2 pp; $x^2$ stays as text."),
    ]
    nbformat.write(notebook, path)
    return path


def test_export_hides_code_and_noise(tmp_path: Path) -> None:
    source = _executed_notebook(tmp_path / "02_kpis.ipynb")
    page = export_notebook_html(
        source, tmp_path / "html" / "02_kpis.html", title="Retention KPIs", subtitle="run x"
    )
    html = page.read_text(encoding="utf-8")
    assert page.is_file()
    assert 'href="../index.html"' in html and "Retention KPIs" in html
    assert "visible line" in html and "Retention rose by 2 pp" in html
    assert "import crmlib" not in html and "crm.plot" not in html  # code hidden
    assert "SECRET-INJECTED" not in html and "noisy log" not in html and "REMOVED" not in html
    assert "In&nbsp;[" not in html and "In [" not in html  # prompts hidden
    assert f'src="data:image/png;base64,{PNG}"' in html and 'alt="Chart"' in html
    assert "http://" not in html and "https://" not in html
    assert "<script src" not in html and "require" not in html.lower().replace("required", "")


def test_notebook_title(tmp_path: Path) -> None:
    source = _executed_notebook(tmp_path / "02_kpis.ipynb")
    assert notebook_title(source) == "KPIs: how is retention moving?"
    assert (
        notebook_title(tmp_path / "05_clv.ipynb") == "Customer lifetime value"
    )  # missing file: fallback


def test_notebook_title_drops_the_step_number(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# 02 · Retention KPIs\n\ntext")]
    nbformat.write(notebook, tmp_path / "02_kpis.ipynb")
    assert notebook_title(tmp_path / "02_kpis.ipynb") == "Retention KPIs"


def test_tiles_follow_the_small_cell_rule(tmp_path: Path) -> None:
    """The front page applies privacy.min_cell_size to the tiles of metrics.json when it renders."""
    tiles = [
        {"key": "active_customers", "label": "Active customers", "kind": "count", "value": 14,
         "customers": 14, "display": "14", "period_label": "Dec 2025",
         "vs_previous": {"change": 0.4, "display": "+40.0%", "customers": 10},
         "vs_year_ago": {"change": -0.5, "display": "-50.0%", "customers": 28}, "better": "up"},
        {"key": "aov", "label": "Average order value", "kind": "money", "value": 54.2,
         "customers": 14, "display": "£54.20", "period_label": "Dec 2025",
         "vs_previous": {"change": 0.1, "display": "+10.0%", "customers": 10},
         "vs_year_ago": None, "better": "up"},
        {"key": "retention_rate", "label": "Retention rate", "kind": "rate", "value": 0.4,
         "customers": 30, "display": "40.0%", "period_label": "Dec 2025",
         "vs_previous": {"change": 2.0, "display": "+2.0 pp", "customers": 40},
         "vs_year_ago": None, "better": "up"},
    ]  # fmt: skip
    run = tmp_path / "run"
    _write_metrics(run, {"kpis": {"conclusion": "Fine.", "tiles": tiles}})
    path = tmp_path / "params.yaml"
    text = "run_name: small\nas_of_date: 2025-12-31\ncurrency: GBP\nsource:\n  transactions:\n    path: tx.csv\n"
    pages = {}
    for limit in (10, 25):
        path.write_text(text + f"privacy:\n  min_cell_size: {limit}\n", encoding="utf-8")
        html = write_index(run, params=load_params(path), stages=_stages(run, {"02_kpis": "ok"}))
        pages[limit] = html.read_text(encoding="utf-8")
    # at 10 every figure is on at least 10 customers: shown as recorded
    assert '<p class="wb-tile-value">14</p>' in pages[10] and "£54.20" in pages[10]
    assert 'title="vs previous period: +40.0% (better)"' in pages[10]
    # at 25: the count reads "<25", the AOV on 14 customers "–", their changes "–" without an
    # arrow; retention on 30 customers stays, its change vs a period on 40 too
    page = pages[25]
    assert '<p class="wb-tile-value">&lt;25</p>' in page and "£54.20" not in page
    assert '<p class="wb-tile-value">\u2013</p>' in page
    assert "+40.0%" not in page and "-50.0%" not in page and "+10.0%" not in page
    assert 'title="vs previous period: \u2013"' in page and "\u25b2 \u2013" not in page
    assert '<p class="wb-tile-value">40.0%</p>' in page and "+2.0 pp" in page
    assert json.loads((run / "metrics.json").read_text("utf-8"))["kpis"]["tiles"] == tiles
