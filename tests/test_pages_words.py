"""The words of the report: every page speaks the run's currency and shows no stray repr.

One end-to-end run of the real CLI on the embedded sample, as a GBP shop (params/default.yaml
with ``currency: GBP``), then every HTML page of the run is read as a stakeholder would:
- no "€" and no "EUR" anywhere (sentences, tables, tooltips): the run's currency is pounds;
- no Python reprs in the text outside tables (``[]``, ``None``, ``nan``, ``NaN``, ``NaT``,
  ``<NA>``, ``Timestamp(``, a list of quoted strings, ``<Figure ...>`` ...);
- inside tables, no repr that is never a value (``[]``, ``Timestamp(``, a list of quoted
  strings, ``object at 0x``); a missing cell shown as NaN is a formatting question for each
  table, not checked here.
Code (``<code>``), stylesheets and scripts are not prose and are not read; folded details
(``<details>``, analysts' notes) are read like prose, since a reader opens them with one click. Charts are embedded PNGs whose text cannot be read here: their axes and
labels are checked by the plot tests of each module (e.g. ``tests/test_plotting.py``).

The page reader (:func:`page_words`) and the patterns are tested first on inline HTML.
"""

from __future__ import annotations

import ast
import re
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import DEFAULT_PARAMS, REPO_ROOT, require_sample, run_module_cli

RUN_NAME = "sample-gbp"
NOTEBOOK_STEMS = sorted(p.stem for p in (REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PAGES = ["index.html", *(f"html/{stem}.html" for stem in NOTEBOOK_STEMS)]

#: Elements whose text is not prose: code, styles, scripts, the <head>.
_SKIPPED = frozenset({"code", "style", "script", "head", "svg", "template", "noscript"})
#: Elements that never have an end tag.
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
     "track", "wbr"}
)  # fmt: skip
#: Inline elements: their text runs on with the text around them (no line break added).
_INLINE = frozenset({"a", "b", "strong", "em", "i", "span", "sub", "sup", "abbr", "small", "u"})
#: Attributes a reader sees (tooltips, image descriptions).
_READ_ATTRIBUTES = ("title", "alt", "aria-label")

#: Reprs that never belong in a sentence. ``None`` as an English word ("None of the ...") is
#: followed by a lower-case word and is allowed; ``None`` before punctuation, a capital or the
#: end of a line is a printed Python value.
PROSE_REPRS: dict[str, re.Pattern[str]] = {
    "[]": re.compile(r"\[\]"),
    "{}": re.compile(r"(?<![\w$])\{\}"),
    "None": re.compile(r"\bNone\b(?![ \t]+[a-z])"),
    "nan": re.compile(r"\bnan\b"),
    "NaN": re.compile(r"\bNaN\b"),
    "NaT": re.compile(r"\bNaT\b"),
    "<NA>": re.compile(r"<NA>"),
    "Timestamp(": re.compile(r"\bTimestamp\("),
    "Timedelta(": re.compile(r"\bTimedelta\("),
    "list repr": re.compile(r"\[\s*'[^'\n]*'\s*(?:,|\])"),
    "dtype": re.compile(r"\bdtype[:=]"),
    "object repr": re.compile(r"object at 0x[0-9a-f]+|<IPython\.|<Figure size"),
}
#: An output block that is a whole Python string repr: a cell ending in a str (``'It rose.'``)
#: shows its quotes; the notebook should display it as Markdown.
STRING_REPR = re.compile(r"""\s*(['"])[^\n]*\1\s*""")
#: Reprs that are never a table value either.
TABLE_REPRS: dict[str, re.Pattern[str]] = {
    name: PROSE_REPRS[name]
    for name in ("[]", "Timestamp(", "Timedelta(", "list repr", "object repr")
}
#: Signs of another currency on a GBP page.
NOT_GBP: dict[str, re.Pattern[str]] = {"€": re.compile("€"), "EUR": re.compile(r"\bEUR\b")}


@dataclass
class PageWords:
    """The text a reader sees on a page: prose (outside tables) and table cells, separately."""

    prose: str = ""
    tables: str = ""
    attributes: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)  # each <pre> block outside tables

    @property
    def everything(self) -> str:
        return "\n".join([self.prose, self.tables, *self.attributes])


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.prose: list[str] = []
        self.tables: list[str] = []
        self.attributes: list[str] = []
        self.outputs: list[str] = []
        self._pre: list[str] = []

    def _skipping(self) -> bool:
        return any(tag in _SKIPPED for tag in self.open)

    def _sink(self) -> list[str]:
        return self.tables if "table" in self.open else self.prose

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self._skipping():
            self.attributes += [v for k, v in attrs if k in _READ_ATTRIBUTES and v]
            if tag not in _INLINE:
                self._sink().append("\n")
        if tag not in _VOID:
            self.open.append(tag)
        if tag == "pre":
            self._pre = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self._skipping():
            self.attributes += [v for k, v in attrs if k in _READ_ATTRIBUTES and v]

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre" and not self._skipping() and "table" not in self.open:
            self.outputs.append("".join(self._pre))
        if tag in self.open:  # close it and anything left open inside it
            while self.open.pop() != tag:
                pass
        if not self._skipping() and tag not in _INLINE:
            self._sink().append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping():
            self._sink().append(data)
            if "pre" in self.open:
                self._pre.append(data)


def page_words(html: str) -> PageWords:
    """Split a page's visible text into prose and table text (code and styles skipped)."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return PageWords(
        "".join(reader.prose), "".join(reader.tables), reader.attributes, reader.outputs
    )


def findings(text: str, patterns: dict[str, re.Pattern[str]], *, where: str) -> list[str]:
    """One line per match: what was found, where, and the sentence around it."""
    found = []
    for name, pattern in patterns.items():
        for match in pattern.finditer(text):
            start = text.rfind("\n", 0, match.start()) + 1
            end = text.find("\n", match.end())
            line = " ".join(text[start : end if end >= 0 else None].split())
            found.append(f"{name!r} in {where}: {line[:300]}")
    return found


# -- the reader and the patterns, on inline HTML -----------------------------------------------


def test_page_words_separates_prose_tables_and_skips_code() -> None:
    html = """<html><head><title>None</title><style>p::before { content: "[]"; }</style></head>
    <body><p>Revenue was <b>£1.2k</b>.</p><pre>['customers', 'events']</pre>
    <table><tr><th>value</th></tr><tr><td>NaN</td></tr></table>
    <p>The rule <code>rules: None</code> is the default.</p>
    <details><summary>x</summary>Timestamp('2025-01-01')</details>
    <img alt="Chart of € revenue" src="data:,"><br><p>after</p><script>var a = [];</script>
    </body></html>"""
    words = page_words(html)
    assert "Revenue was £1.2k." in words.prose
    assert "['customers', 'events']" in words.prose  # a printed list is prose, not a table
    assert "NaN" in words.tables and "NaN" not in words.prose
    assert "rules: None" not in words.everything  # code
    assert "Timestamp(" in words.prose  # folded details are read
    assert "[]" not in words.everything  # style and script
    assert "None" not in words.prose  # the <head> title
    assert words.attributes == ["Chart of € revenue"]
    assert "after" in words.prose  # the void <img>/<br> did not swallow what follows


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Inputs: []", ["[]"]),
        ("Optional inputs: ['customers', 'events']", ["list repr"]),
        ("['customers']", ["list repr"]),
        ("None of the variants was shipped.", []),
        ("Cost per contact: None.", ["None"]),
        ("Cost per contact None", ["None"]),
        ("the mean is nan and the share NaN%", ["nan", "NaN"]),
        ("first order Timestamp('2025-01-01 00:00:00')", ["Timestamp("]),
        ("financial nano banana", []),
        ("pairs [a, b] and {x} stay", []),
        ("Name: revenue, dtype: float64", ["dtype"]),
        ("<Figure size 900x400 with 1 Axes>", ["object repr"]),
        ("no date: NaT; no count: <NA>; {}", ["{}", "NaT", "<NA>"]),
    ],
    ids=[
        "empty-list", "list-of-names", "one-name", "english-none", "none-value", "none-eol",
        "nan", "timestamp", "words-with-nan", "brackets-in-words", "series-repr", "figure-repr",
        "nat-na-dict",
    ],
)  # fmt: skip
def test_prose_patterns(text: str, expected: list[str]) -> None:
    found = [line.split("'")[1] for line in findings(text, PROSE_REPRS, where="test")]
    assert sorted(found) == sorted(expected)


def test_output_blocks_and_string_reprs() -> None:
    html = """<div><pre>'It rose 5%.'</pre><pre>PASS totals: 'a' and 'b'</pre>
    <p>'Entered' compares with the segments of 2025-10-02.</p>
    <table><tr><td><pre>'in a table'</pre></td></tr></table><pre>"it's"</pre></div>"""
    outputs = page_words(html).outputs
    assert outputs == ["'It rose 5%.'", "PASS totals: 'a' and 'b'", '"it\'s"']
    assert [bool(STRING_REPR.fullmatch(block)) for block in outputs] == [True, False, True]
    assert not STRING_REPR.fullmatch("'a'\n'b'")  # two printed lines are not one repr


def test_currency_patterns() -> None:
    assert findings("Revenue £1.2k (GBP)", NOT_GBP, where="test") == []
    assert len(findings("Revenue €1.2k\nTotal CLV (EUR)", NOT_GBP, where="test")) == 2
    assert findings("EURO and NEURON", NOT_GBP, where="test") == []


# -- no currency is hard-coded in the package ----------------------------------------------------

#: Where a currency literal is the point: the symbol table, the params default (the one place
#: a run's currency is chosen when a params file omits it) and a dirty-data token of synth.
_CURRENCY_LITERALS_ALLOWED = {
    ("crmlib/formatting.py", "EUR"),
    ("crmlib/formatting.py", "€"),
    ("crmlib/config.py", "EUR"),
    ("crmlib/synth/_dirty.py", "EUR"),
}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def currency_literals(path: Path) -> list[tuple[int, str, str]]:
    """``(line, function, literal)`` of every "EUR" or "€" in code (docstrings and comments
    excepted) of one module: a default or fallback that can put euros on a GBP page."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstrings(tree)
    owners: dict[int, str] = {}  # node -> the innermost function or class around it
    for node in ast.walk(tree):  # outer before inner, so inner names win
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            owners |= {id(child): node.name for child in ast.walk(node) if child is not node}
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and ("€" in node.value or re.search(r"\bEUR\b", node.value))
        ):
            found.append((node.lineno, owners.get(id(node), "<module>"), node.value))
    return found


def test_currency_literals_in_code() -> None:
    """No function can fall back to euros: the currency comes from the params, every time."""
    package = REPO_ROOT / "crmlib"
    leaks = [
        f"{relative}:{line} in {owner}(): {literal[:60]!r}"
        for path in sorted(package.rglob("*.py"))
        for relative in [path.relative_to(REPO_ROOT).as_posix()]
        for line, owner, literal in currency_literals(path)
        if (relative, literal) not in _CURRENCY_LITERALS_ALLOWED
    ]
    assert not leaks, "currency hard-coded (pass currency=params.currency instead):\n" + "\n".join(
        leaks
    )


def test_currency_literals_finds_defaults_and_skips_docstrings(tmp_path: Path) -> None:
    module = tmp_path / "money.py"
    module.write_text(
        '''"""Money in euros: '€1.2k'."""


def fmt(value, currency="EUR"):
    """Like '€1.2k'."""
    return ("€" if currency == "EUR" else "") + str(value)  # EUR
''',
        encoding="utf-8",
    )
    # the default and the fallback are found; the docstrings and the comment are not
    assert currency_literals(module) == [(4, "fmt", "EUR"), (6, "fmt", "€"), (6, "fmt", "EUR")]


# -- the whole workbook, as a GBP shop ----------------------------------------------------------


def _absolute_paths(value: Any, base: Path) -> Any:
    """Relative paths (``../data/...``) of a params mapping made absolute against ``base``."""
    if isinstance(value, dict):
        return {key: _absolute_paths(item, base) for key, item in value.items()}
    if isinstance(value, list):
        return [_absolute_paths(item, base) for item in value]
    if isinstance(value, str) and value.startswith(("../", "./")):
        return str((base / value).resolve())
    return value


def write_gbp_params(target: Path) -> Path:
    """params/default.yaml as a GBP run named ``sample-gbp``, with absolute paths."""
    params = yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))
    params = _absolute_paths(params, DEFAULT_PARAMS.parent)
    params.update(run_name=RUN_NAME, currency="GBP")
    target.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def gbp_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The real CLI on the sample as a GBP run, once for this module; returns its run folder.

    A failed run's pages are read from the kept ``sample-gbp.failed-*`` folder, so that the
    page tests still say what they find on the pages that were written.
    """
    require_sample()
    root = tmp_path_factory.mktemp("gbp")
    params = write_gbp_params(root / "sample-gbp.yaml")
    outputs = root / "outputs"
    result = run_module_cli("run", "--params", params, "--outputs", outputs)
    run_dir = outputs / RUN_NAME
    if not run_dir.is_dir():
        failed = sorted(outputs.glob(f"{RUN_NAME}.failed-*"))
        run_dir = failed[-1] if failed else run_dir
    return result, run_dir


def _page(run_dir: Path, page: str) -> PageWords:
    path = run_dir / page
    if not path.is_file():
        pytest.fail(f"{page} was not written in {run_dir}")
    return page_words(path.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_gbp_run_completes(gbp_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, run_dir = gbp_run
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert run_dir.name == RUN_NAME


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_no_euro_on_a_gbp_page(
    gbp_run: tuple[subprocess.CompletedProcess[str], Path], page: str
) -> None:
    words = _page(gbp_run[1], page)
    found = findings(words.everything, NOT_GBP, where=page)
    assert not found, "\n".join(found)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_no_stray_reprs(gbp_run: tuple[subprocess.CompletedProcess[str], Path], page: str) -> None:
    words = _page(gbp_run[1], page)
    found = findings(words.prose, PROSE_REPRS, where=f"{page} (text)")
    found += findings("\n".join(words.attributes), PROSE_REPRS, where=f"{page} (tooltips)")
    found += findings(words.tables, TABLE_REPRS, where=f"{page} (tables)")
    found += [
        f"a quoted string in {page} (cell output): {block.strip()[:300]}"
        for block in words.outputs
        if STRING_REPR.fullmatch(block)
    ]
    assert not found, "\n".join(found)


@pytest.mark.slow
def test_money_is_in_pounds(gbp_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """The pages that state money state it in pounds (so the € tests above are not vacuous)."""
    run_dir = gbp_run[1]
    money_pages = ["index.html", "html/02_kpis.html", "html/04_segments.html"]
    missing = [page for page in money_pages if "£" not in _page(run_dir, page).prose]
    assert not missing, f"no £ amount on {missing}"
    assert "GBP" in _page(run_dir, "html/01_ingest.html").everything  # "GBP 1,234.56" amounts
