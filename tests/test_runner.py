"""The runner and the CLI on a tiny fake workbook: success, failure, lock, config errors, reuse."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import (
    FAKE_NOTEBOOKS,
    REPO_ROOT,
    CliRun,
    FakeProject,
    local_links,
    remote_references,
    run_cli,
    tree_digest,
    write_notebook,
)
from filelock import FileLock

from crmlib import runner
from crmlib.config import load_params
from crmlib.errors import ConfigError, RunLockedError, StageInputMissing
from crmlib.runner import RunSetupError, run_notebooks

NOTEBOOKS = ["01_ingest", "02_kpis", "03_cohorts"]


def _run_json(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text(encoding="utf-8"))


# --- success -----------------------------------------------------------------------------------


def test_success_exits_0_and_prints_progress(good_run: tuple[FakeProject, CliRun]) -> None:
    project, result = good_run
    assert result.code == 0
    lines = result.stdout.splitlines()
    for position, name in enumerate(NOTEBOOKS, start=1):
        assert any(
            re.fullmatch(rf"\[{position}/3\] {name} \.\.\. ok \(\d+\.\d s\)", line)
            for line in lines
        ), lines
    assert lines[-1] == f"Report: {project.run_dir / 'index.html'}"
    assert result.stderr.strip() == ""


def test_success_writes_the_run_folder(good_run: tuple[FakeProject, CliRun]) -> None:
    project, _ = good_run
    run_dir = project.run_dir
    for name in NOTEBOOKS:
        assert (run_dir / "notebooks" / f"{name}.ipynb").is_file()
        assert (run_dir / "html" / f"{name}.html").is_file()
    for name in (
        "index.html",
        "run.json",
        "metrics.json",
        "quality.json",
        "data/transactions.parquet",
    ):
        assert (run_dir / name).is_file(), name
    leftovers = [
        p.name
        for p in project.outputs.iterdir()
        if ".building-" in p.name or ".replaced-" in p.name
    ]
    assert leftovers == []
    assert project.failed_dirs() == []


def test_index_links_resolve(good_run: tuple[FakeProject, CliRun]) -> None:
    project, _ = good_run
    html = (project.run_dir / "index.html").read_text(encoding="utf-8")
    links = local_links(html)
    assert {f"html/{name}.html" for name in NOTEBOOKS} <= set(links)
    for link in links:
        assert (project.run_dir / link).is_file(), link
    for name in NOTEBOOKS:  # every stage page links back to the front page
        page = (project.run_dir / "html" / f"{name}.html").read_text(encoding="utf-8")
        assert 'href="../index.html"' in page
        for link in local_links(page):
            assert (project.run_dir / "html" / link).resolve().is_file(), (name, link)


def test_run_json_records_statuses_params_and_versions(
    good_run: tuple[FakeProject, CliRun],
) -> None:
    project, _ = good_run
    record = _run_json(project.run_dir)
    assert record["status"] == "ok"
    assert record["failed"] is None
    assert list(record["notebooks"]) == NOTEBOOKS
    for entry in record["notebooks"].values():
        assert entry["status"] == "ok" and entry["seconds"] > 0
    assert record["params"]["run_name"] == "fake"
    assert record["params"]["kpis"]["period"] == "month"
    assert record["params_file"] == "fake.yaml"  # relative to the params file's folder
    assert record["seconds"] > 0 and record["started"] <= record["finished"]
    assert set(record["versions"]) == {"python", *runner.VERSIONED_PACKAGES}
    assert record["versions"]["papermill"] and record["versions"]["pandas"]


def test_run_json_fingerprints_the_input(good_run: tuple[FakeProject, CliRun]) -> None:
    project, _ = good_run
    inputs = _run_json(project.run_dir)["inputs"]
    assert list(inputs) == ["transactions"]  # only configured tables
    (fingerprint,) = inputs["transactions"]["files"]
    data = project.transactions.read_bytes()
    assert fingerprint["path"] == "../data/transactions.csv"  # relative to the params folder
    assert fingerprint["sha256"] == hashlib.sha256(data).hexdigest()
    assert fingerprint["size"] == len(data)
    assert inputs["transactions"]["missing"] == []


def test_html_is_self_contained_and_hides_code_and_noise(
    good_run: tuple[FakeProject, CliRun],
) -> None:
    project, _ = good_run
    pages = [project.run_dir / "index.html", *sorted((project.run_dir / "html").glob("*.html"))]
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert remote_references(html) == [], page.name
        assert "http://" not in html and "https://" not in html, page.name  # not even in comments
        assert "require.js" not in html and "MathJax" not in html
        assert "STDERR-NOISE" not in html, "stderr output must be hidden"
        assert "REMOVED-CELL-OUTPUT" not in html, "cells tagged 'remove' must be hidden"
        assert "load_params" not in html and "import pandas" not in html, "code must be hidden"
        assert "injected-parameters" not in html
    ingest = (project.run_dir / "html" / "01_ingest.html").read_text(encoding="utf-8")
    assert "Read 4 rows" in ingest  # stdout stays
    kpis = (project.run_dir / "html" / "02_kpis.html").read_text(encoding="utf-8")
    assert re.search(r'<img [^>]*src="data:image/png;base64,', kpis), "charts are embedded PNG"


def test_index_shows_verdict_tiles_and_conclusions(good_run: tuple[FakeProject, CliRun]) -> None:
    project, _ = good_run
    html = (project.run_dir / "index.html").read_text(encoding="utf-8")
    assert "Data quality: pass" in html and "4 rows read, none rejected." in html
    assert "EUR 65.75" in html and "Churn rate" in html
    assert "3 customers in 3 monthly cohorts." in html
    assert "CUST-SECRET" not in html


def test_run_notebooks_returns_a_result(fake_project: FakeProject) -> None:
    events = []
    result = run_notebooks(
        fake_project.params_file,
        run_name="api",
        notebooks_dir=fake_project.notebooks,
        outputs_dir=fake_project.outputs,
        progress=events.append,
    )
    assert result.ok and result.exit_code == 0
    assert result.run_dir == fake_project.outputs / "api"
    assert result.index_html == fake_project.outputs / "api" / "index.html"
    assert [n.status for n in result.notebooks] == ["ok", "ok", "ok"]
    assert [(e.kind, e.index, e.total, e.notebook) for e in events][:2] == [
        ("start", 1, 3, "01_ingest"),
        ("end", 1, 3, "01_ingest"),
    ]
    assert _run_json(result.run_dir)["params"]["run_name"] == "api"  # --run-name override

    # a second run replaces the first one in place
    again = run_notebooks(
        fake_project.params_file,
        run_name="api",
        notebooks_dir=fake_project.notebooks,
        outputs_dir=fake_project.outputs,
    )
    assert again.ok
    assert _run_json(again.run_dir)["started"] >= _run_json(result.run_dir)["started"]
    assert sorted(
        p.name for p in fake_project.outputs.iterdir() if not p.name.endswith(".lock")
    ) == ["api", "api.history"]
    # the replaced run is kept in the history under the time it finished
    (kept,) = (fake_project.outputs / "api.history").iterdir()
    assert _run_json(kept)["started"] == result.run_json["started"]
    assert kept.name == dt.datetime.fromisoformat(_run_json(kept)["finished"]).strftime(
        "%Y%m%dT%H%M%SZ"
    )


# --- failure ----------------------------------------------------------------------------------


def test_failing_notebook_keeps_failed_run_and_previous_run(
    project_with_good_run: FakeProject,
) -> None:
    project = project_with_good_run
    before = tree_digest(project.run_dir)
    project.make_failing("02_kpis", after=1)

    result = run_cli(project.args())

    assert result.code == 1
    assert "[2/3] 02_kpis ... failed" in result.stdout
    # the committed notebook's 4th cell (title, parameters, first code cell, the failing one)
    message = re.search(
        r"FAILED: notebook 02_kpis, cell 4 `raise KeyError\(\"no_such_column\"\)` "
        r"\(In \[(\d+)\]\): KeyError: 'no_such_column'",
        result.stderr,
    )
    assert message, result.stderr
    (failed,) = project.failed_dirs()
    assert str(failed) in result.stderr
    # the previous good run is byte-identical
    assert tree_digest(project.run_dir) == before
    assert not [p for p in project.outputs.iterdir() if ".building-" in p.name]
    # the failed run says where, and keeps the executed notebooks readable
    record = _run_json(failed)
    assert record["status"] == "failed"
    assert record["failed"] == {
        "notebook": "02_kpis",
        "cell": 4,
        "cell_first_line": 'raise KeyError("no_such_column")',
        "cell_index": 4,  # in the executed notebook: the injected parameters cell counts
        "execution_count": int(message.group(1)),
        "ename": "KeyError",
        "evalue": "'no_such_column'",
    }
    # In [1] parameters, In [2] injected parameters, In [3] the first code cell, In [4] the failing one
    assert record["failed"]["execution_count"] == 4
    assert {name: entry["status"] for name, entry in record["notebooks"].items()} == {
        "01_ingest": "ok",
        "02_kpis": "failed",
        "03_cohorts": "not run",
    }
    assert (failed / "notebooks" / "02_kpis.ipynb").is_file()
    page = (failed / "html" / "02_kpis.html").read_text(encoding="utf-8")
    assert "KeyError" in page and "no_such_column" in page
    index = (failed / "index.html").read_text(encoding="utf-8")
    assert "Run failed" in index and "02_kpis" in index
    assert not (failed / "html" / "03_cohorts.html").exists()


def test_failure_without_previous_run(fake_project: FakeProject) -> None:
    fake_project.make_failing("01_ingest", after=0)
    result = run_notebooks(
        fake_project.params_file,
        notebooks_dir=fake_project.notebooks,
        outputs_dir=fake_project.outputs,
    )
    assert not result.ok and result.exit_code == 1
    assert result.failure is not None and result.failure.notebook == "01_ingest"
    assert result.run_dir.name.startswith("fake.failed-") and result.run_dir.is_dir()
    assert result.previous_run_dir is None
    assert not fake_project.run_dir.exists()


# --- refusals ---------------------------------------------------------------------------------


def test_second_run_is_refused_while_locked(fake_project: FakeProject) -> None:
    fake_project.outputs.mkdir(parents=True)
    lock_path = fake_project.outputs / ".fake.lock"
    with FileLock(str(lock_path), timeout=0):
        result = run_cli(fake_project.args())
        with pytest.raises(RunLockedError, match="fake"):
            run_notebooks(
                fake_project.params_file,
                notebooks_dir=fake_project.notebooks,
                outputs_dir=fake_project.outputs,
            )
    assert result.code == 3
    assert "'fake'" in result.stderr and str(lock_path) in result.stderr
    assert result.stdout == ""
    assert [p.name for p in fake_project.outputs.iterdir() if not p.name.endswith(".lock")] == []


def test_unknown_params_key_exits_2_naming_key_and_file(fake_project: FakeProject) -> None:
    text = fake_project.params_file.read_text(encoding="utf-8").replace(
        "period: month", "periodd: month"
    )
    fake_project.params_file.write_text(text, encoding="utf-8")
    result = run_cli(fake_project.args())
    assert result.code == 2
    assert "kpis.periodd" in result.stderr and str(fake_project.params_file) in result.stderr
    with pytest.raises(ConfigError, match="unknown key 'kpis.periodd'"):
        run_notebooks(
            fake_project.params_file,
            notebooks_dir=fake_project.notebooks,
            outputs_dir=fake_project.outputs,
        )
    assert not fake_project.outputs.exists()


def test_bad_run_name_override_exits_2(fake_project: FakeProject) -> None:
    result = run_cli(fake_project.args("--run-name", "../escape"))
    assert result.code == 2 and "run_name" in result.stderr


def test_missing_kernel_names_the_install_command(
    fake_project: FakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_cli(fake_project.args("--kernel", "no-such-kernel-xyz"))
    assert result.code == 2
    assert "python -m ipykernel install --sys-prefix --name no-such-kernel-xyz" in result.stderr

    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    def missing(self: KernelSpecManager, name: str) -> None:
        raise NoSuchKernel(name)

    monkeypatch.setattr(KernelSpecManager, "get_kernel_spec", missing)
    result = run_cli(fake_project.args())
    assert result.code == 2
    assert "python -m ipykernel install --sys-prefix --name crm-workbook" in result.stderr
    assert not fake_project.outputs.exists()


def test_unknown_notebook_name_exits_2(fake_project: FakeProject) -> None:
    result = run_cli(fake_project.args("--only", "09_nothing"))
    assert result.code == 2 and "09_nothing" in result.stderr and "02_kpis" in result.stderr


def test_only_without_previous_run_exits_2(fake_project: FakeProject) -> None:
    result = run_cli(fake_project.args("--only", "02_kpis"))
    assert result.code == 2 and "run the whole workbook first" in result.stderr
    with pytest.raises(StageInputMissing):
        run_notebooks(
            fake_project.params_file,
            only="02_kpis",
            notebooks_dir=fake_project.notebooks,
            outputs_dir=fake_project.outputs,
        )


def test_no_notebooks_is_a_setup_error(tmp_path: Path, fake_project: FakeProject) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunSetupError, match="no numbered notebooks"):
        run_notebooks(
            fake_project.params_file, notebooks_dir=tmp_path / "empty", outputs_dir=tmp_path / "out"
        )


# --- partial runs -----------------------------------------------------------------------------


def test_only_reruns_one_notebook_reusing_the_rest(project_with_good_run: FakeProject) -> None:
    project = project_with_good_run
    previous = _run_json(project.run_dir)
    ingest_page = (project.run_dir / "html" / "01_ingest.html").read_bytes()

    result = run_cli(project.args("--only", "02_kpis"))

    assert result.code == 0, result.stderr
    assert "[2/3] 02_kpis ... ok" in result.stdout
    assert "01_ingest" not in result.stdout and "03_cohorts" not in result.stdout
    record = _run_json(project.run_dir)
    assert record["mode"]["only"] == "02_kpis"
    assert (
        record["notebooks"]["02_kpis"]["status"] == "ok"
        and "reused" not in record["notebooks"]["02_kpis"]
    )
    for name in ("01_ingest", "03_cohorts"):
        assert (
            record["notebooks"][name]["status"] == "ok"
            and record["notebooks"][name]["reused"] is True
        )
        assert record["notebooks"][name]["seconds"] == previous["notebooks"][name]["seconds"]
    assert record["started"] >= previous["started"]
    assert (project.run_dir / "html" / "01_ingest.html").read_bytes() == ingest_page  # reused as is
    metrics = json.loads((project.run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics) == {"ingest", "kpis", "cohorts"}
    assert (project.run_dir / "data" / "transactions.parquet").is_file()
    index = (project.run_dir / "index.html").read_text(encoding="utf-8")
    assert index.count("results from the previous run") == 2
    for link in local_links(index):
        assert (project.run_dir / link).is_file(), link


def test_from_reruns_the_tail(project_with_good_run: FakeProject) -> None:
    project = project_with_good_run
    result = run_notebooks(
        project.params_file,
        start_from="02",
        notebooks_dir=project.notebooks,
        outputs_dir=project.outputs,
    )
    assert result.ok
    assert [(n.notebook, n.status, n.reused) for n in result.notebooks] == [
        ("01_ingest", "ok", True),
        ("02_kpis", "ok", False),
        ("03_cohorts", "ok", False),
    ]
    assert _run_json(project.run_dir)["mode"]["from"] == "02"


def test_failed_only_run_leaves_previous_run(project_with_good_run: FakeProject) -> None:
    project = project_with_good_run
    before = tree_digest(project.run_dir)
    project.make_failing("03_cohorts", after=0)
    result = run_cli(project.args("--from", "03_cohorts"))
    assert result.code == 1 and "FAILED: notebook 03_cohorts" in result.stderr
    assert tree_digest(project.run_dir) == before
    (failed,) = project.failed_dirs()
    statuses = {k: v["status"] for k, v in _run_json(failed)["notebooks"].items()}
    assert statuses == {"01_ingest": "ok", "02_kpis": "ok", "03_cohorts": "failed"}


# --- the swap ---------------------------------------------------------------------------------


@pytest.mark.parametrize("atomic_exchange", [True, False], ids=["renameat2", "two-renames"])
def test_swap_replaces_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, atomic_exchange: bool
) -> None:
    if not atomic_exchange:
        monkeypatch.setattr("crmlib.runner._folders._exchange", lambda first, second: False)
    final, build = tmp_path / "run", tmp_path / ".run.building-x"
    final.mkdir()
    (final / "old.txt").write_text("old")
    build.mkdir()
    (build / "new.txt").write_text("new")
    runner._swap_into_place(build, final, "stamp")
    assert [p.name for p in final.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def _good_run(folder: Path, finished: str, *, tables: tuple[str, ...] = ()) -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"status": "ok", "finished": finished}))
    for name in tables:
        (folder / "data" / f"{name}.parquet").write_text(name)
    return folder


@pytest.mark.parametrize("atomic_exchange", [True, False], ids=["renameat2", "two-renames"])
def test_the_replaced_runs_are_kept_in_the_history_up_to_keep_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, atomic_exchange: bool
) -> None:
    if not atomic_exchange:
        monkeypatch.setattr("crmlib.runner._folders._exchange", lambda first, second: False)
    final = tmp_path / "run"
    finished = [f"2026-0{month}-01T06:00:00+00:00" for month in range(1, 6)]
    for number, when in enumerate(finished):
        build = _good_run(
            tmp_path / f".run.building-{number}", when, tables=("transactions", "rfm")
        )
        runner._swap_into_place(build, final, "stamp", keep_runs=3)
    assert json.loads((final / "run.json").read_text())["finished"] == finished[-1]
    history = tmp_path / "run.history"
    # with the run in place, 3 good runs: the two latest replaced ones, named by their end
    assert sorted(p.name for p in history.iterdir()) == ["20260301T060000Z", "20260401T060000Z"]
    for kept in history.iterdir():  # order-level tables of 01_ingest are left out
        assert sorted(p.name for p in (kept / "data").iterdir()) == ["rfm.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "run.history"]
    # lowering keep_runs to 1 empties the history at the next run
    runner._swap_into_place(
        _good_run(tmp_path / ".run.building-9", finished[0]), final, "s", keep_runs=1
    )
    assert list(history.iterdir()) == []


def test_interrupted_swap_is_recovered(tmp_path: Path) -> None:
    """A run killed between 'rename old aside' and 'rename build in' loses nothing."""
    aside = tmp_path / ".sample.replaced-20250101T000000Z"
    aside.mkdir()
    (aside / "index.html").write_text("previous")
    (tmp_path / ".sample.building-20250101T000000Z-abc").mkdir()
    kept = runner._recover(tmp_path, "sample")
    assert (tmp_path / "sample" / "index.html").read_text() == "previous"
    # the dead runner's build is evidence: kept as a failed run, status killed
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "sample",
        "sample.failed-20250101T000000Z",
    ]
    assert kept == [tmp_path / "sample.failed-20250101T000000Z"]
    record = json.loads((kept[0] / "run.json").read_text())
    assert record["status"] == "killed" and record["failed"]["ename"] == "RunnerKilled"


# --- inputs and interruptions -----------------------------------------------------------------


def test_fingerprints_follow_globs_lists_and_report_missing(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    for month in ("2025-01", "2025-02"):
        (tmp_path / "data" / f"orders-{month}.csv").write_text(
            f"order_id\n{month}\n", encoding="utf-8"
        )
    (tmp_path / "customers.csv").write_text("customer_id\nA\n", encoding="utf-8")
    params_file = tmp_path / "p.yaml"
    params_file.write_text(
        "run_name: x\nas_of_date: 2025-02-28\nsource:\n"
        "  transactions:\n    path: [data/orders-*.csv, data/missing.csv]\n"
        "  customers:\n    path: customers.csv\n",
        encoding="utf-8",
    )
    inputs = runner.input_fingerprints(load_params(params_file))
    assert list(inputs) == ["transactions", "customers"]
    files = inputs["transactions"]["files"]
    assert [Path(f["path"]).name for f in files] == ["orders-2025-01.csv", "orders-2025-02.csv"]
    assert files[0]["sha256"] == hashlib.sha256(b"order_id\n2025-01\n").hexdigest()
    assert inputs["transactions"]["missing"] == [str(tmp_path / "data" / "missing.csv")]
    assert inputs["customers"]["files"][0]["size"] == len("customer_id\nA\n")


def test_sigterm_keeps_the_partial_run(fake_project: FakeProject) -> None:
    """A scheduler's kill (SIGTERM) is recorded like a failure: run.json says where it stopped."""
    title, cells = FAKE_NOTEBOOKS["01_ingest"]
    slow = 'import pathlib, time\npathlib.Path(run_dir, "started").touch()\ntime.sleep(120)'
    write_notebook(
        fake_project.notebooks / "01_ingest.ipynb",
        title=title,
        params_file=fake_project.params_file,
        cells=[(slow, []), *cells],
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "crmlib.cli", *fake_project.args()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(fake_project.outputs.glob(".fake.building-*/started")):
            assert process.poll() is None and time.monotonic() < deadline, (
                "the slow cell never started"
            )
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "Interrupted" in stderr
    (failed,) = fake_project.failed_dirs()
    record = _run_json(failed)
    assert record["status"] == "failed"
    assert (
        record["failed"]["notebook"] == "01_ingest"
        and record["failed"]["ename"] == "KeyboardInterrupt"
    )
    # located: the committed notebook's 3rd cell (title, parameters, the slow one)
    assert (record["failed"]["cell"], record["failed"]["cell_first_line"]) == (
        3, "import pathlib, time",
    )  # fmt: skip
    assert not fake_project.run_dir.exists()
    assert not list(fake_project.outputs.glob(".fake.building-*"))


# --- inputs decide what runs: an experiment export alone runs 07 only ------------------------------

EXPORT_PARAMS = """\
run_name: fake_export
as_of_date: 2025-06-30
currency: EUR
source:
  experiment_export:
    path: ../data/ab.csv
    columns: {variant: arm}
ab_test:
  metrics: [converted]
  primary_metric: converted
  cuped_covariates: {}
  ratio_metrics: {}
  guardrails: {}
  segments: []
"""

_AB_CELLS: list[tuple[str, list[str]]] = [
    (
        """\
        from crmlib.config import load_stage_params
        from crmlib.io import RunFolder
        metrics = load_stage_params(params_file, "ab_test", overrides).metrics
        _ = RunFolder(run_dir).write_metrics("ab_test", {"conclusion": f"{metrics} analysed."})
        """,
        [],
    ),
]


def _export_project(project: FakeProject, *, metrics: str = "[converted]") -> Path:
    """The fake workbook plus a 07_ab_test notebook and an export-only params file."""
    params = project.root / "params" / "export.yaml"
    params.write_text(EXPORT_PARAMS.replace("[converted]", metrics), encoding="utf-8")
    (project.root / "data" / "ab.csv").write_text(
        "arm,converted\ncontrol,1\ntreatment,0\ntreatment,1\n", encoding="utf-8"
    )
    write_notebook(
        project.notebooks / "07_ab_test.ipynb",
        title="Campaign test of the fake shop",
        params_file=params,
        cells=_AB_CELLS,
    )
    return params


def _export_args(project: FakeProject, params: Path, *extra: str) -> list[str]:
    return ["run", "--params", str(params), "--notebooks", str(project.notebooks),
            "--outputs", str(project.outputs), *extra]  # fmt: skip


SKIP_SENTENCE = (
    "01–03 need a transactions table (source.transactions); this run has only an experiment "
    "export (source.experiment_export)."
)


def test_export_only_params_run_07_alone(fake_project: FakeProject) -> None:
    params = _export_project(fake_project)
    result = run_cli(_export_args(fake_project, params))
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    for position, name in enumerate(NOTEBOOKS, start=1):
        assert f"[{position}/4] {name} ... skipped" in lines
    assert any(re.fullmatch(r"\[4/4\] 07_ab_test \.\.\. ok \(\d+\.\d s\)", line) for line in lines)
    run_dir = fake_project.outputs / "fake_export"
    assert lines[-2:] == [f"Skipped: {SKIP_SENTENCE}", f"Report: {run_dir / 'index.html'}"]
    record = _run_json(run_dir)
    assert record["status"] == "ok"
    for name in NOTEBOOKS:
        assert record["notebooks"][name] == {
            "status": "skipped", "seconds": None, "reason": SKIP_SENTENCE, "ipynb": None,
            "html": None,
        }  # fmt: skip
        assert not (run_dir / "html" / f"{name}.html").exists()
    assert record["notebooks"]["07_ab_test"]["status"] == "ok"
    assert json.loads((run_dir / "metrics.json").read_text())["ab_test"] == {
        "conclusion": "['converted'] analysed."
    }
    index = (run_dir / "index.html").read_text(encoding="utf-8")
    assert f"Skipped: {SKIP_SENTENCE}" in index.replace("&#39;", "'")
    assert 'href="html/07_ab_test.html"' in index
    assert "['converted'] analysed." in index.replace("&#39;", "'")


def test_export_mapping_error_exits_2_before_any_notebook(fake_project: FakeProject) -> None:
    params = _export_project(fake_project, metrics="[converted, spend]")
    result = run_cli(_export_args(fake_project, params))
    assert result.code == 2
    message = result.stderr
    assert message.startswith("Cannot start the run: ab.csv: required metric or covariate 'spend'")
    assert "(named in ab_test.metrics)" in message and "columns found: arm, converted" in message
    assert result.stdout == "" and not fake_project.outputs.exists()  # no notebook ran


def test_only_a_stage_the_inputs_do_not_allow_exits_2(fake_project: FakeProject) -> None:
    params = _export_project(fake_project)
    result = run_cli(_export_args(fake_project, params, "--only", "02_kpis"))
    assert result.code == 2
    assert "nothing to run: 02_kpis cannot run on this params file" in result.stderr
    assert "02 needs" not in result.stderr and SKIP_SENTENCE in result.stderr


def test_plan_of_the_real_workbook() -> None:
    notebooks = runner.discover_notebooks(REPO_ROOT / "notebooks")
    assert set(
        runner.plan_stages(load_params(REPO_ROOT / "params" / "default.yaml"), notebooks).values()
    ) == {None}
    plan = runner.plan_stages(load_params(REPO_ROOT / "params" / "ab_export_only.yaml"), notebooks)
    sentence = (
        "01–06 need a transactions table (source.transactions); this run has only an "
        "experiment export (source.experiment_export)."
    )
    assert plan == {
        path.stem: None if path.stem == "07_ab_test" else sentence for path in notebooks
    }
    assert runner.STAGE_INPUTS["ab_test"] == ("transactions", "experiment_export")


@pytest.mark.parametrize(
    ("stems", "words"),
    [(["03_cohorts"], "03"), (["02_kpis", "04_segments"], "02 and 04"),
     (["01_a", "02_b", "03_c"], "01–03"), (["01_a", "03_b", "04_c"], "01, 03 and 04")],
    ids=["one", "two", "range", "gap"],
)  # fmt: skip
def test_skipped_notebooks_are_named_by_number(stems: list[str], words: str) -> None:
    from crmlib.runner._plan import _numbers

    assert _numbers(stems) == words
