"""The HTML report: executed notebooks exported without code, and the front page ``index.html``."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import nbformat
from markupsafe import Markup
from markupsafe import escape as html_escape
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor

from crmlib.config import WorkbookParams
from crmlib.formatting import format_figure, signed_points
from crmlib.io import read_json
from crmlib.privacy import SmallCells

__all__ = [
    "TEMPLATES_DIR",
    "STAGE_TITLES",
    "HIDDEN_CELL_TAGS",
    "StageEntry",
    "notebook_title",
    "export_notebook_html",
    "with_contents",
    "write_index",
]

log = logging.getLogger(__name__)

#: Where the report's templates and stylesheet live (package data).
TEMPLATES_DIR: Path = Path(__file__).resolve().parent / "templates"

#: Fallback titles of the stages, used when a notebook has no ``# Title`` first cell.
STAGE_TITLES: dict[str, str] = {
    "ingest": "Data quality",
    "kpis": "Retention KPIs",
    "cohorts": "Cohorts",
    "segments": "Segments and activation lists",
    "clv": "Customer lifetime value",
    "churn": "Churn risk",
    "ab_test": "Retention campaign test",
}

#: Cells carrying one of these tags are left out of the exported pages.
HIDDEN_CELL_TAGS: frozenset[str] = frozenset(
    {"parameters", "injected-parameters", "remove", "remove-cell"}
)

_STATUS_CSS = {"ok": "ok", "failed": "failed"}
_VERDICT_CSS = {"pass": "pass", "warn": "warn", "fail": "fail"}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_STEP_PREFIX = re.compile(r"^\d{2}\s*[·.:|\-–—]?\s+")


@dataclass(frozen=True)
class StageEntry:
    """One stage (notebook) as the front page shows it.

    Parameters
    ----------
    notebook : str
        Notebook stem, e.g. ``"02_kpis"``.
    section : str
        Its params section and ``metrics.json`` key, e.g. ``"kpis"``.
    title : str
        Human title (the notebook's first heading).
    status : str
        ``"ok"``, ``"failed"``, ``"not run"`` or ``"skipped"`` (the params name none of its
        inputs; ``notes[0]`` says why and becomes the card's text).
    seconds : float or None
        Execution time, when it ran.
    html : str or None
        Page of the stage relative to the run folder (``"html/02_kpis.html"``), when exported.
    reused : bool
        The stage did not run this time; its results come from the previous run.
    """

    notebook: str
    section: str
    title: str
    status: str = "not run"
    seconds: float | None = None
    html: str | None = None
    reused: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)


def notebook_title(path: str | Path, *, default: str | None = None) -> str:
    """The text of the first ``# heading`` in a notebook's first markdown cell.

    Parameters
    ----------
    path : path-like
        An ``.ipynb`` file.
    default : str, optional
        Returned when the file is missing or has no heading; defaults to the stage's
        entry in :data:`STAGE_TITLES` (or the file's stem).

    Returns
    -------
    str
        The heading without markdown emphasis, e.g. ``"Retention KPIs"``.
    """
    notebook_path = Path(path)
    stem = notebook_path.stem
    fallback = default or STAGE_TITLES.get(stem.partition("_")[2], stem)
    try:
        notebook = nbformat.read(notebook_path, as_version=4)
    except (OSError, ValueError, nbformat.reader.NotJSONError):
        return fallback
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("# "):
                text = re.sub(r"[*_`]", "", line[2:]).strip()
                text = _STEP_PREFIX.sub(
                    "", text
                )  # "02 · Retention KPIs": the page shows the number
                return text or fallback
        break
    return fallback


class _HideNoise(Preprocessor):  # type: ignore[misc]
    """Drop stderr streams (logs, warnings) and code cells left with nothing to show."""

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        kept = []
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = [
                    output
                    for output in cell.get("outputs", [])
                    if not (
                        output.get("output_type") == "stream" and output.get("name") == "stderr"
                    )
                ]
                if not cell.outputs:
                    continue
            kept.append(cell)
        nb.cells = kept
        return nb, resources


def _strip_css_comments(text: str) -> Markup:
    """Inlined stylesheet without its comments (they cite URLs that are never fetched)."""
    return Markup(_CSS_COMMENT.sub("", str(text)))


def _house_css() -> str:
    return (TEMPLATES_DIR / "report.css").read_text(encoding="utf-8")


_SECTION_HEADING = re.compile(r'<h2 id="([^"]+)">(.*?)<a class="anchor-link"', re.DOTALL)
_PAGE_TITLE_END = re.compile(r"</h1>")


def with_contents(page: str) -> str:
    """The exported page with a table of contents after its title: one link per ``##`` section.

    The links are the sections' own anchors (nbconvert gives every heading an id); a page with
    fewer than three sections, or without a title, is returned unchanged.

    Examples
    --------
    >>> page = ('<h1 id="t">T</h1>' + "".join(f'<h2 id="s{i}">Part {i}<a class="anchor-link" '
    ...         f'href="#s{i}">¶</a></h2>' for i in range(3)))
    >>> print(with_contents(page)[:150])
    <h1 id="t">T</h1><nav class="wb-toc" aria-label="On this page"><p>On this page</p><ol><li><a href="#s0">Part 0</a></li><li><a href="#s1">Part 1</a></l
    """
    sections = _SECTION_HEADING.findall(page)
    title = _PAGE_TITLE_END.search(page)
    if len(sections) < 3 or title is None:
        return page
    links = "".join(f'<li><a href="#{anchor}">{text.strip()}</a></li>' for anchor, text in sections)
    nav = f'<nav class="wb-toc" aria-label="On this page"><p>On this page</p><ol>{links}</ol></nav>'
    return page[: title.end()] + nav + page[title.end() :]


def export_notebook_html(
    executed_ipynb: str | Path,
    out_html: str | Path,
    *,
    title: str,
    subtitle: str | None = None,
    back_href: str = "../index.html",
) -> Path:
    """Export an executed notebook to one self-contained HTML page without code.

    Code inputs and prompts are hidden; the ``parameters``/``injected-parameters`` cells,
    cells tagged ``remove`` and stderr outputs (logs, warnings) are left out; charts stay
    embedded as base64 PNG. Nothing on the page loads from the network: the template blanks
    nbconvert's require.js, MathJax, Mermaid and widget blocks and inlines its stylesheets.
    A failed notebook (papermill's error cell and the traceback) exports the same way.

    Parameters
    ----------
    executed_ipynb : path-like
        A notebook written by papermill.
    out_html : path-like
        Where to write the page (parent folders are created).
    title : str
        Page title, shown in the header bar.
    subtitle : str, optional
        Shown after the title (e.g. the run name).
    back_href : str, default "../index.html"
        Link from the header bar back to the front page.

    Returns
    -------
    Path
        ``out_html``.
    """
    notebook = nbformat.read(str(executed_ipynb), as_version=4)
    exporter = HTMLExporter(
        template_file=str(TEMPLATES_DIR / "notebook.html.j2"),
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    exporter.register_filter("wb_strip_css_comments", _strip_css_comments)
    exporter.register_preprocessor(
        TagRemovePreprocessor(
            remove_cell_tags=set(HIDDEN_CELL_TAGS), remove_all_outputs_tags={"remove-output"}
        ),
        enabled=True,
    )
    exporter.register_preprocessor(_HideNoise(), enabled=True)
    resources = {
        "metadata": {"name": title},
        "wb_title": title,
        "wb_subtitle": subtitle or "",
        "wb_back_href": back_href,
        "wb_css": Markup(_house_css()),
    }
    body, _ = exporter.from_notebook_node(notebook, resources=resources)
    body = with_contents(body)
    target = Path(out_html)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")
    log.info("exported %s -> %s", Path(executed_ipynb).name, target)
    return target


# ---------------------------------------------------------------------------------------------
# front page


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )


def _text(value: Any) -> str:
    """A metrics value as plain text (None and NaN -> empty, so no repr reaches the page)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return _ANSI.sub("", str(value)).strip()


def _skip_reasons(stages: Sequence[StageEntry]) -> dict[str, str]:
    """Section -> why it was skipped ("" when no reason was given), for skipped stages."""
    return {s.section: (s.notes[0] if s.notes else "") for s in stages if s.status == "skipped"}


def _not_run(notebook: str, reason: str | None) -> str:
    """Why a stage left nothing on the front page: skipped (with its reason) or not run."""
    if reason is None:
        return f"{notebook} has not run in this run folder."
    why = reason.removeprefix("Skipped: ").strip()
    return f"{notebook} was skipped: {why}" if why else f"{notebook} was skipped."


def _quality(metrics: Mapping[str, Any], skipped: Mapping[str, str]) -> dict[str, str]:
    ingest = metrics.get("ingest")
    if not isinstance(ingest, Mapping) or not ingest.get("verdict"):
        return {
            "css": "unknown",
            "label": "Data quality: not assessed",
            "text": "No data-quality verdict was recorded: "
            + _not_run("01_ingest", skipped.get("ingest")),
        }
    verdict = _text(ingest.get("verdict")).lower()
    text = (
        _text(ingest.get("verdict_text"))
        or _text(ingest.get("conclusion"))
        or "No details recorded."
    )
    head, colon, rest = text.partition(":")
    if (
        colon and rest.strip() and head.strip().lower()[:4] == verdict[:4]
    ):  # "Pass: ..." under "pass"
        text = rest.strip()
    return {
        "css": _VERDICT_CSS.get(verdict, "unknown"),
        "label": f"Data quality: {verdict}",
        "text": text,
    }


def _change(change: Any, *, label: str, better: str) -> dict[str, str]:
    if not isinstance(change, Mapping):
        return {
            "css": "",
            "arrow": "",
            "display": "n/a",
            "label": label,
            "title": f"{label}: not available",
        }
    value = change.get("change")
    display = _text(change.get("display")) or "n/a"
    try:
        number = float(value) if value is not None else None
    except (TypeError, ValueError):
        number = None
    if number is None or number != number:  # None or NaN
        css, arrow = "", ""
    elif number == 0:
        css, arrow = "", "="
    else:
        up = number > 0
        arrow = "▲" if up else "▼"
        if better in ("up", "down"):
            css = "good" if up == (better == "up") else "bad"
        else:
            css = ""
    verdict = {"good": " (better)", "bad": " (worse)"}.get(css, "")
    compared = _text(change.get("period_label"))
    against = f" ({compared})" if compared else ""
    return {
        "css": css,
        "arrow": arrow,
        "display": display,
        "label": label,
        "title": f"{label}{against}: {display}{verdict}",
    }


def _kpis(
    metrics: Mapping[str, Any], skipped: Mapping[str, str], *, min_cell_size: int
) -> dict[str, Any]:
    """The KPI tiles of ``metrics["kpis"]`` as the front page shows them.

    The small-cell rule is applied here, when the page renders (:func:`crmlib.kpis.shown_tiles`):
    a count tile of 1 to ``min_cell_size - 1`` customers reads "<10", a rate or amount computed
    on so few customers "–", and a change from or to such a figure "–" without an arrow.
    """
    kpis = metrics.get("kpis")
    raw_tiles = kpis.get("tiles") if isinstance(kpis, Mapping) else None
    if not isinstance(raw_tiles, Sequence) or isinstance(raw_tiles, str) or not raw_tiles:
        reason = (
            "KPI tiles are not available: " + _not_run("02_kpis", skipped.get("kpis"))
            if not isinstance(kpis, Mapping)
            else "KPI tiles are not available: 02_kpis recorded no tiles."
        )
        return {"tiles": [], "period_label": "", "missing": reason}
    # imported here: crmlib.kpis loads matplotlib and pandas, which the runner (that imports
    # this module) needs only now, after the notebooks ran (~0.1 GiB less beside every kernel)
    from crmlib.kpis import shown_tiles

    tiles = []
    periods = set()
    trends = kpis.get("trends") if isinstance(kpis, Mapping) else None
    readable = [raw for raw in raw_tiles if isinstance(raw, Mapping)]
    for raw in shown_tiles(readable, min_cell_size=min_cell_size):
        better = _text(raw.get("better")).lower()
        period_label = _text(raw.get("period_label"))
        periods.add(period_label)
        display = _text(raw.get("display")) or _text(raw.get("value")) or "n/a"
        tiles.append(
            {
                "key": _text(raw.get("key")),
                "label": _text(raw.get("label")) or _text(raw.get("key")) or "KPI",
                "display": display,
                "period_label": period_label,
                "spark": _sparkline(
                    trends.get(_text(raw.get("key"))) if isinstance(trends, Mapping) else None,
                    label=_text(raw.get("label")) or "KPI",
                    min_cell_size=min_cell_size,
                ),
                "changes": [
                    _change(raw.get("vs_previous"), label="vs previous period", better=better),
                    _change(raw.get("vs_year_ago"), label="vs year ago", better=better),
                ],
            }
        )
    common_period = periods.pop() if len(periods) == 1 else ""
    return {
        "tiles": tiles,
        "period_label": common_period,
        "missing": "KPI tiles are not available.",
    }


def _sparkline(trend: Any, *, label: str, min_cell_size: int) -> Markup:
    """A tile's trend as an inline SVG line (no script, no request); "" when under 2 points.

    Values on fewer than ``min_cell_size`` customers are left out (a gap in the line), as the
    tiles hide them. The SVG holds only coordinates computed here and an escaped title.
    """
    if not isinstance(trend, Mapping):
        return Markup("")
    values, customers = trend.get("values") or [], trend.get("customers") or []
    periods = trend.get("periods") or []
    rule = SmallCells(min_cell_size)
    points: list[float | None] = []
    for position, value in enumerate(values):
        small = position < len(customers) and bool(rule.is_small(customers[position]))
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        points.append(None if small or number is None or number != number else float(number))
    shown = [v for v in points if v is not None]
    if len(shown) < 2:
        return Markup("")
    width, height, pad = 120.0, 28.0, 3.0
    low, high = min(shown), max(shown)
    span = high - low or 1.0
    step = (width - 2 * pad) / max(1, len(points) - 1)
    runs: list[list[str]] = [[]]
    last_xy = ""
    for position, value in enumerate(points):
        if value is None:
            runs.append([])
            continue
        x = pad + position * step
        y = height - pad - (value - low) / span * (height - 2 * pad)
        last_xy = f'cx="{x:.1f}" cy="{y:.1f}"'
        runs[-1].append(f"{x:.1f},{y:.1f}")
    lines = "".join(
        f'<polyline points="{" ".join(run)}" fill="none" stroke="currentColor" '
        'stroke-width="1.6" stroke-linejoin="round" stroke-linecap="round"/>'
        for run in runs
        if len(run) >= 2
    )
    first, last = (periods[0], periods[-1]) if periods else ("", "")
    title = html_escape(f"{label}: trend over {len(points)} complete periods, {first} to {last}")
    return Markup(
        f'<svg class="wb-spark" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
        f'height="{height:.0f}" role="img" aria-label="{title}"><title>{title}</title>{lines}'
        f'<circle {last_xy} r="2.2" fill="currentColor"/></svg>'
    )


def _since_last(metrics: Mapping[str, Any], stages: Sequence[StageEntry]) -> dict[str, Any]:
    """The front page's "What changed since the last report": each stage's sentence.

    Read from ``metrics[section]["since_last"]`` (:func:`crmlib.history.record`); the as-of
    date of the last report is the one most stages compared with.
    """
    found = []
    for stage in stages:
        entry = metrics.get(stage.section)
        since = entry.get("since_last") if isinstance(entry, Mapping) else None
        if isinstance(since, Mapping) and since.get("as_of_date"):
            found.append((stage.title, _text(since["as_of_date"]), _text(since.get("sentence"))))
    dates = [date for _title, date, _sentence in found]
    # the date most stages compared with; a tie goes to the latest
    as_of = max(set(dates), key=lambda date: (dates.count(date), date)) if dates else ""
    items = []
    for title, date, sentence in found:
        if date == as_of:  # the heading names the date: the sentence need not repeat it
            sentence = sentence.removeprefix(f"Since the last report (as of {as_of}): ")
        items.append({"title": title, "sentence": _emphasis(sentence[:1].upper() + sentence[1:])})
    return {
        "as_of_date": as_of,
        "items": items,
        "missing": "This is the first report of this run kept with its as-of date: the next "
        "report will say what changed since this one.",
    }


_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _emphasis(text: str) -> Markup:
    """A sentence written for a notebook's markdown, as HTML: escaped, ``**bold**`` kept bold.

    >>> str(_emphasis("the **rate effect** & <b>"))
    'the <strong>rate effect</strong> &amp; &lt;b&gt;'
    """
    return Markup(_BOLD.sub(r"<strong>\1</strong>", str(html_escape(text))))


def _why(metrics: Mapping[str, Any]) -> Markup:
    """Why retention moved (rate or mix effect: ``metrics["kpis"]["mix"]``), or ""."""
    kpis = metrics.get("kpis")
    mix = kpis.get("mix") if isinstance(kpis, Mapping) else None
    retention = mix.get("retention") if isinstance(mix, Mapping) else None
    return _emphasis(_text(retention.get("sentence")) if isinstance(retention, Mapping) else "")


def _satisfaction_and_cost(metrics: Mapping[str, Any], currency: str) -> list[dict[str, str]]:
    """The front page's satisfaction and acquisition-cost headline, when those tables exist.

    NPS and CSAT from ``metrics["kpis"]["satisfaction"]`` (02_kpis, the optional ``surveys``
    table), the blended acquisition cost and CLV:CAC from ``metrics["clv"]`` (05_clv, the
    optional ``marketing_spend`` table). A figure withheld by the small-cell rule (None) is
    left out; no item at all: no block.
    """
    items = []
    kpis = metrics.get("kpis")
    sat = kpis.get("satisfaction") if isinstance(kpis, Mapping) else None
    if isinstance(sat, Mapping) and isinstance(sat.get("nps"), (int, float)):
        low, high = sat.get("nps_low"), sat.get("nps_high")
        interval = (
            f"95% interval {signed_points(low)} to {signed_points(high)}; "
            if isinstance(low, (int, float)) and isinstance(high, (int, float))
            else ""
        )
        items.append({
            "key": "nps", "label": "Net Promoter Score", "value": signed_points(sat["nps"]),
            "note": f"{interval}{sat.get('nps_respondents') or 0:,} customers answered",
        })  # fmt: skip
    if isinstance(sat, Mapping) and isinstance(sat.get("csat"), (int, float)):
        items.append({
            "key": "csat", "label": "CSAT (answered 4 or 5 of 5)",
            "value": format_figure(sat["csat"], "rate"),
            "note": f"{sat.get('csat_respondents') or 0:,} customers answered",
        })  # fmt: skip
    clv = metrics.get("clv")
    clv = clv if isinstance(clv, Mapping) else {}
    cac = clv.get("cac_blended")
    if isinstance(cac, (int, float)):
        ratios = clv.get("clv_to_cac")
        ratio = ratios.get("All channels") if isinstance(ratios, Mapping) else None
        note = (
            f"CLV:CAC {ratio:.1f} (predicted value of a customer over what acquiring one cost)"
            if isinstance(ratio, (int, float))
            else "all marketing spend over all new customers"
        )
        items.append({
            "key": "cac", "label": "Acquisition cost per new customer",
            "value": format_figure(cac, "money", currency), "note": note,
        })  # fmt: skip
    return items


def _stage_view(stage: StageEntry, metrics: Mapping[str, Any], run_folder: Path) -> dict[str, Any]:
    stage_metrics = metrics.get(stage.section)
    stage_metrics = stage_metrics if isinstance(stage_metrics, Mapping) else {}
    conclusion = _text(stage_metrics.get("conclusion"))
    notes = list(stage.notes)
    if stage.status == "skipped":  # the params name none of its inputs; the reason is notes[0]
        conclusion = notes.pop(0) if notes else "Skipped: this run has none of its inputs."
    elif stage.status == "not run":
        conclusion = conclusion if stage.reused else ""
        conclusion = conclusion or "This stage has not run yet."
    elif not conclusion:
        conclusion = (
            "The notebook failed before recording a conclusion."
            if stage.status == "failed"
            else "No conclusion was recorded in metrics.json."
        )
    stage_status = _text(stage_metrics.get("status"))
    if stage_status and stage_status.lower() not in ("ok", stage.status):
        notes.append(f"Stage reported: {stage_status}")
    if stage.reused:
        notes.append("Not re-run this time: results from the previous run.")
    href = stage.html if stage.html and (run_folder / stage.html).is_file() else None
    number, _, _ = stage.notebook.partition("_")
    return {
        "notebook": stage.notebook,
        "number": number,
        "title": stage.title,
        "status": stage.status,
        "status_css": _STATUS_CSS.get(stage.status, ""),
        "card_css": "not-run" if stage.status in ("not run", "skipped") else "",
        "conclusion": conclusion,
        "notes": notes,
        "href": href,
    }


def _read_metrics(run_folder: Path) -> dict[str, Any]:
    path = run_folder / "metrics.json"
    if not path.is_file():
        return {}
    try:
        metrics = read_json(path)
    except (OSError, json.JSONDecodeError) as exc:
        log.warning(
            "metrics.json in %s is unreadable (%s); the front page shows no figures",
            run_folder,
            exc,
        )
        return {}
    return metrics if isinstance(metrics, dict) else {}


def write_index(
    run_folder: str | Path,
    *,
    params: WorkbookParams,
    stages: Sequence[StageEntry],
    failure: str | None = None,
    generated: dt.datetime | None = None,
) -> Path:
    """Write the front page ``index.html`` of a run folder.

    One self-contained page (inline CSS, no script, no external request): title, run name,
    as-of date, currency and generation time; the data-quality verdict from
    ``metrics["ingest"]``; the KPI tiles from ``metrics["kpis"]["tiles"]`` coloured by whether
    each change is good or bad, under the small-cell rule (``params.privacy.min_cell_size``:
    a customer count below it reads "<10", a figure computed on so few customers "–"); one
    card per stage with its status, its one-line conclusion (``metrics[section]["conclusion"]``)
    and a relative link to its page. Missing stages or
    metrics are said so on the page. Every value is HTML-escaped; only aggregates from
    ``metrics.json`` are shown, never customer-level data.

    Parameters
    ----------
    run_folder : path-like
        The run folder (its ``metrics.json`` is read, ``index.html`` written).
    params : WorkbookParams
        The run's params (run name, as-of date, currency).
    stages : sequence of StageEntry
        Every notebook of the workbook, in order.
    failure : str, optional
        One line saying where the run failed; shown as a banner.
    generated : datetime, optional
        Generation time shown on the page; defaults to now (UTC).

    Returns
    -------
    Path
        The written ``index.html``.
    """
    folder = Path(run_folder)
    metrics = _read_metrics(folder)
    generated_at = generated or dt.datetime.now(dt.UTC)
    try:
        from crmlib import __version__ as version
    except ImportError:  # pragma: no cover - the package always defines it
        version = "unknown"
    skipped = _skip_reasons(stages)
    quality = _quality(metrics, skipped)
    if not metrics:
        quality["text"] += " (metrics.json is missing or empty.)"
    context: dict[str, Any] = {
        "css": Markup(_house_css()),
        "run": {
            "run_name": params.run_name,
            "as_of_date": params.as_of_date.isoformat(),
            "currency": params.currency,
            "generated": generated_at.strftime("%Y-%m-%d %H:%M %Z").strip(),
            "failure": failure or "",
            "version": version,
            "has_run_json": (folder / "run.json").is_file(),
        },
        "quality": quality,
        "kpis": _kpis(metrics, skipped, min_cell_size=params.privacy.min_cell_size),
        "stages": [_stage_view(stage, metrics, folder) for stage in stages],
        "since_last": _since_last(metrics, stages),
        "why": _why(metrics),
        "satisfaction_and_cost": _satisfaction_and_cost(metrics, params.currency),
    }
    html = _environment().get_template("index.html.j2").render(**context)
    target = folder / "index.html"
    folder.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(".index.html.tmp")
    temp.write_text(html, encoding="utf-8")
    temp.replace(target)
    log.info("wrote %s", target)
    return target
