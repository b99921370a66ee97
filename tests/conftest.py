"""Shared fixtures: a tiny fake workbook (three notebooks, a params file, a CSV) and its runs."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

from crmlib.config import load_params, section_for_notebook

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = REPO_ROOT / "data" / "sample"
DEFAULT_PARAMS = REPO_ROOT / "params" / "default.yaml"
CHROMIUM = Path("/usr/bin/chromium")

FAKE_PARAMS = """\
run_name: fake
as_of_date: 2025-06-30
currency: EUR
source:
  transactions:
    path: ../data/transactions.csv
kpis:
  period: month
"""

FAKE_TRANSACTIONS = """\
order_id,customer_id,order_ts,amount
O1,CUST-SECRET-001,2025-04-02 10:00:00,10.5
O2,CUST-SECRET-002,2025-05-03 11:00:00,20.0
O3,CUST-SECRET-001,2025-06-04 12:00:00,30.25
O4,CUST-SECRET-003,2025-06-05 13:00:00,5.0
"""

#: Cells of the fake notebooks after the title and parameters: (source, tags).
_INGEST_CELLS: list[tuple[str, list[str]]] = [
    (
        """\
        import sys
        import pandas as pd
        from crmlib.config import load_params
        from crmlib.io import RunFolder
        params = load_params(params_file)
        run = RunFolder(run_dir)
        transactions = pd.read_csv(params.resolve(params.source.transactions.path))
        _ = run.write_table("transactions", transactions)
        _ = run.write_table("customer_days", transactions)  # stand-ins for the shared facts
        _ = run.write_table("customer_facts", transactions)
        _ = run.write_json("quality", {"rows_read": len(transactions), "rows_rejected": 0})
        print("STDERR-NOISE should not reach the report", file=sys.stderr)
        """,
        [],
    ),
    ('print("REMOVED-CELL-OUTPUT")', ["remove"]),
    ('print(f"Read {len(transactions)} rows")', []),
    (
        """\
        _ = run.write_metrics("ingest", {
            "conclusion": f"All {len(transactions)} rows passed validation.",
            "verdict": "pass",
            "verdict_text": f"{len(transactions)} rows read, none rejected.",
            "rows_read": len(transactions),
        })
        """,
        [],
    ),
]

_KPIS_CELLS: list[tuple[str, list[str]]] = [
    (
        """\
        import matplotlib.pyplot as plt
        import pandas as pd
        from crmlib.config import load_stage_params
        from crmlib.io import RunFolder
        params = load_stage_params(params_file, "kpis", overrides)
        run = RunFolder(run_dir)
        transactions = run.read_table("transactions")
        revenue = float(pd.to_numeric(transactions["amount"], errors="coerce").sum())
        """,
        [],
    ),
    (
        """\
        fig, ax = plt.subplots(figsize=(4, 2.5))
        ax.bar(["Apr", "May", "Jun"], [10.5, 20.0, 35.25])
        ax.set(title="Revenue by month", xlabel="Month", ylabel="Revenue (EUR)")
        plt.show()
        """,
        [],
    ),
    (
        """\
        tiles = [
            {"key": "revenue", "label": "Revenue", "value": revenue, "display": f"EUR {revenue:,.2f}",
             "period_label": "June 2025", "vs_previous": {"change": 0.76, "display": "+76%"},
             "vs_year_ago": None, "better": "up"},
            {"key": "churn_rate", "label": "Churn rate", "value": 0.2, "display": "20%",
             "period_label": "June 2025", "vs_previous": {"change": 0.05, "display": "+5 pp"},
             "vs_year_ago": {"change": -0.02, "display": "-2 pp"}, "better": "down"},
        ]
        _ = run.write_metrics("kpis", {"conclusion": f"Revenue was EUR {revenue:,.2f} in {params.period} terms.",
                                        "tiles": tiles})
        """,
        [],
    ),
]

_COHORTS_CELLS: list[tuple[str, list[str]]] = [
    (
        """\
        from crmlib.io import RunFolder
        run = RunFolder(run_dir)
        n_customers = run.read_table("transactions")["customer_id"].nunique()
        _ = run.write_metrics("cohorts", {"conclusion": f"{n_customers} customers in 3 monthly cohorts."})
        print(f"{n_customers} customers")
        """,
        [],
    ),
]

FAKE_NOTEBOOKS: dict[str, tuple[str, list[tuple[str, list[str]]]]] = {
    "01_ingest": ("Data quality: is the fake data valid?", _INGEST_CELLS),
    "02_kpis": ("Retention KPIs of the fake shop", _KPIS_CELLS),
    "03_cohorts": ("Cohorts of the fake shop", _COHORTS_CELLS),
}

FAILING_CELL = 'raise KeyError("no_such_column")'


def parameters_source(params_file: Path, notebook_name: str) -> str:
    """A parameters cell declaring exactly what the runner injects: the params file, the run
    folder and the overrides (the notebook reads the rest from the file)."""
    section_for_notebook(notebook_name)  # a fake notebook is named like a real one
    run_name = load_params(params_file).run_name
    return (
        f'params_file: str = "../params/{params_file.name}"\n'
        f'run_dir: str = "../outputs/{run_name}"\n'
        "overrides: dict = {}"
    )


def write_notebook(
    path: Path,
    *,
    title: str,
    params_file: Path,
    cells: Sequence[tuple[str, list[str]]],
) -> Path:
    """Write a numbered notebook: a title, the parameters cell, then ``cells``."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "crm-workbook",
        "display_name": "Python (crm-workbook)",
        "language": "python",
    }
    parameters = nbformat.v4.new_code_cell(parameters_source(params_file, path.name))
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [
        nbformat.v4.new_markdown_cell(f"# {title}\n\nA tiny stage for tests."),
        parameters,
    ]
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(textwrap.dedent(source))
        if tags:
            cell.metadata["tags"] = list(tags)
        notebook.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


@dataclass
class FakeProject:
    """A three-notebook workbook in a temporary folder."""

    root: Path

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def params_file(self) -> Path:
        return self.root / "params" / "fake.yaml"

    @property
    def transactions(self) -> Path:
        return self.root / "data" / "transactions.csv"

    @property
    def run_dir(self) -> Path:
        return self.outputs / "fake"

    def args(self, *extra: str) -> list[str]:
        """``crm-workbook run`` arguments for this project."""
        return [
            "run",
            "--params",
            str(self.params_file),
            "--notebooks",
            str(self.notebooks),
            "--outputs",
            str(self.outputs),
            *extra,
        ]

    def make_failing(self, notebook: str = "02_kpis", *, after: int = 1) -> None:
        """Rewrite ``notebook`` with a cell raising KeyError after its first ``after`` code cells."""
        title, cells = FAKE_NOTEBOOKS[notebook]
        cells = [*cells[:after], (FAILING_CELL, []), *cells[after:]]
        write_notebook(
            self.notebooks / f"{notebook}.ipynb",
            title=title,
            params_file=self.params_file,
            cells=cells,
        )

    def failed_dirs(self) -> list[Path]:
        return sorted(self.outputs.glob("fake.failed-*"))


def make_fake_project(root: Path) -> FakeProject:
    """Write the fake workbook under ``root``."""
    project = FakeProject(root)
    project.params_file.parent.mkdir(parents=True, exist_ok=True)
    project.params_file.write_text(FAKE_PARAMS, encoding="utf-8")
    project.transactions.parent.mkdir(parents=True, exist_ok=True)
    project.transactions.write_text(FAKE_TRANSACTIONS, encoding="utf-8")
    for name, (title, cells) in FAKE_NOTEBOOKS.items():
        write_notebook(
            project.notebooks / f"{name}.ipynb",
            title=title,
            params_file=project.params_file,
            cells=cells,
        )
    return project


@dataclass
class CliRun:
    """The outcome of one in-process ``crm-workbook`` call."""

    code: int
    stdout: str
    stderr: str


def run_cli(argv: Sequence[str]) -> CliRun:
    """Call :func:`crmlib.cli.main` in-process, capturing what it prints."""
    from crmlib import cli  # imported on use: nbconvert is slow to import for unrelated tests

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return CliRun(code, out.getvalue(), err.getvalue())


def tree_digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (relative path -> digest)."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


_URL_ATTRIBUTE = re.compile(r"""\b(?:src|href)\s*=\s*["']?\s*(https?:|//)""", re.IGNORECASE)


def remote_references(html: str) -> list[str]:
    """``src``/``href`` attributes pointing at the network, and ``@import``/``url()`` of http(s)."""
    found = [m.group(0) for m in _URL_ATTRIBUTE.finditer(html)]
    found += re.findall(r"""(?:@import|url\()\s*["']?https?:[^"')\s]*""", html, flags=re.IGNORECASE)
    return found


def local_links(html: str) -> list[str]:
    """Relative ``href``/``src`` targets (no scheme, no fragment-only, no data: URIs)."""
    targets = re.findall(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""", html, flags=re.IGNORECASE)
    return [
        t.split("#")[0]
        for t in targets
        if not re.match(r"^(?:[a-z][a-z0-9+.-]*:|#)", t, re.IGNORECASE)
    ]


#: Test files that take minutes, heaviest first. ``make test`` runs ``-n 2 --dist loadfile``,
#: which hands whole files to the two workers in collection order: started first, the long
#: files run side by side instead of one of them ending the run alone.
HEAVY_FIRST = (
    "test_e2e_spark.py",
    "test_engine_conformance.py",
    "test_e2e_real_data.py",
    "test_e2e_cdnow.py",
    "test_e2e.py",
    "test_notebooks.py",
    "test_postgres_source.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Heavy files first (:data:`HEAVY_FIRST`); every other test keeps its order."""
    rank = {name: position for position, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture
def fake_project(tmp_path: Path) -> FakeProject:
    """A fresh fake workbook with no run yet."""
    return make_fake_project(tmp_path / "project")


@pytest.fixture(scope="session")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[FakeProject, CliRun]:
    """The fake workbook run once, successfully (shared: tests must not modify it)."""
    project = make_fake_project(tmp_path_factory.mktemp("good") / "project")
    result = run_cli(project.args())
    assert result.code == 0, result.stderr
    return project, result


@pytest.fixture
def project_with_good_run(
    tmp_path: Path, good_run: tuple[FakeProject, CliRun]
) -> Iterator[FakeProject]:
    """A private copy of the fake workbook including its successful run (free to modify)."""
    source, _ = good_run
    shutil.copytree(source.root, tmp_path / "project", symlinks=True)
    yield FakeProject(tmp_path / "project")


# --- the real workbook on the embedded sample (slow tests) -----------------------------------


def require_sample() -> None:
    """Fail (not skip) when the sample or the notebooks are missing: they are part of the repo."""
    missing = [
        str(p.relative_to(REPO_ROOT))
        for p in (SAMPLE / "truth.json", SAMPLE / "customers.csv.gz", DEFAULT_PARAMS)
        if not p.is_file()
    ]
    if missing:
        pytest.fail(
            f"the end-to-end run needs {missing}: regenerate the sample with `python -m crmlib.synth`"
        )
    if not sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        pytest.fail(
            "the end-to-end run needs the numbered notebooks notebooks/NN_*.ipynb: none found"
        )


def run_module_cli(*args: str | Path, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """``python -m crmlib.cli ...`` from the repository root, as a scheduler would run it."""
    return subprocess.run(
        [sys.executable, "-m", "crmlib.cli", *map(str, args)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def sample_customer_ids(n: int = 40) -> list[str]:
    """A handful of real customer ids of the sample (first rows and a spread of the rest)."""
    import pandas as pd

    ids = pd.read_csv(SAMPLE / "customers.csv.gz", usecols=["customer_id"], dtype=str)[
        "customer_id"
    ]
    step = max(1, len(ids) // n)
    return sorted(set(ids.iloc[:10]) | set(ids.iloc[::step]))


def small_counts_on_pages(run_dir: Path, *, min_cell_size: int) -> list[str]:
    """Every customer count below the limit on the front page and the 7 stage pages of a run."""
    from crmlib.privacy import small_counts_in_html

    pages = [run_dir / "index.html", *sorted((run_dir / "html").glob("*.html"))]
    assert len(pages) == 8, [page.name for page in pages]
    return [
        f"{page.name}: {finding}"
        for page in pages
        for finding in small_counts_in_html(page.read_text("utf-8"), min_cell_size=min_cell_size)
    ]


#: The as-of date of the sample's previous report: a month before params/default.yaml's.
PREVIOUS_AS_OF = "2025-11-30"


def previous_report_params(folder: Path) -> Path:
    """params/default.yaml as of :data:`PREVIOUS_AS_OF`, written to ``folder`` (paths absolute)."""
    import yaml

    params = yaml.safe_load(DEFAULT_PARAMS.read_text("utf-8"))
    base = DEFAULT_PARAMS.parent
    for table in params["source"].values():
        table["path"] = str((base / table["path"]).resolve())
    for section in ("segments", "churn"):
        if params[section].get("suppression_list"):
            params[section]["suppression_list"] = str(
                (base / params[section]["suppression_list"]).resolve()
            )
    params["as_of_date"] = PREVIOUS_AS_OF
    path = folder / "previous.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


def _once_per_session(
    tmp_path_factory: pytest.TempPathFactory, name: str, make: Any
) -> tuple[Path, dict[str, Any]]:
    """``make(folder)`` once per test session, shared by the pytest-xdist workers.

    The first worker to ask runs it into ``<session temp>/<name>/`` under a file lock; the
    others wait and read its folder and the JSON-ready dict it returned. Callers only read the
    folder (it is the same one for every worker).
    """
    import json

    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the session's
    folder, done = root / name, root / f"{name}.json"
    with FileLock(str(root / f"{name}.lock")):
        if not done.is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            done.write_text(json.dumps(make(folder)), encoding="utf-8")
    return folder, json.loads(done.read_text(encoding="utf-8"))


def _cli_run(folder: Path, params: Path | str) -> dict[str, Any]:
    result = run_module_cli("run", "--params", params, "--outputs", folder / "outputs")
    return {"args": result.args, "returncode": result.returncode,
            "stdout": result.stdout, "stderr": result.stderr}  # fmt: skip


@pytest.fixture(scope="session")
def previous_sample_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's report a month earlier (as of :data:`PREVIOUS_AS_OF`): its run folder.

    Run once per test session; :func:`with_previous_report` puts a copy where a run of the
    sample finds it as its last good run, as a monthly schedule leaves it.
    """
    require_sample()
    folder, result = _once_per_session(
        tmp_path_factory, "previous-sample",
        lambda folder: _cli_run(folder, previous_report_params(folder)),
    )  # fmt: skip
    if result["returncode"] != 0:
        pytest.fail(f"the previous month's run failed:\n{result['stdout']}\n{result['stderr']}")
    return folder / "outputs" / "sample"


def with_previous_report(previous: Path, outputs: Path, run_name: str) -> None:
    """Make ``previous`` (:func:`previous_sample_report`) the last good run ``run_name`` in
    ``outputs``: the next run of that name replaces it, keeps it in its history, says what
    changed since it and takes its segments as the baseline of "entered the segment"."""
    shutil.copytree(previous, outputs / run_name)


@pytest.fixture(scope="session")
def sample_run(
    tmp_path_factory: pytest.TempPathFactory, previous_sample_report: Path
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The real CLI on params/default.yaml into a temporary outputs folder, once per session
    (shared by the test workers: tests only read it).

    As a monthly schedule leaves it: the same run a month earlier (as of
    :data:`PREVIOUS_AS_OF`) is the last good run in the outputs folder, so that the report
    says what changed since it, and the runner keeps it in ``outputs/sample.history/``.
    """

    def run(folder: Path) -> dict[str, Any]:
        with_previous_report(previous_sample_report, folder / "outputs", "sample")
        return _cli_run(folder, "params/default.yaml")

    folder, result = _once_per_session(tmp_path_factory, "sample-run", run)
    completed = subprocess.CompletedProcess(
        result["args"], result["returncode"], result["stdout"], result["stderr"]
    )
    return completed, folder / "outputs"


@pytest.fixture(scope="session")
def sample_ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """01_ingest on params/default.yaml into a temporary run folder, once per test worker.

    Returns ``(params, run)``: the loaded WorkbookParams and the RunFolder holding the
    canonical tables. Tests only read it.
    """
    from crmlib.config import load_params
    from crmlib.ingest import run_ingest
    from crmlib.io import RunFolder

    require_sample()
    params = load_params(DEFAULT_PARAMS)
    run = RunFolder(tmp_path_factory.mktemp("sample_ingested") / "sample")
    run_ingest(params, run)
    return params, run
