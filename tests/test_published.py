"""Nothing private in the run folder: published paths, the params allow-list, scrubbed notebooks."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import DEFAULT_PARAMS, REPO_ROOT, SAMPLE, require_sample, sample_customer_ids

from crmlib.config import EngineConfig, WorkbookParams, load_params
from crmlib.io import published_path
from crmlib.runner import input_fingerprints, package_versions
from crmlib.runner._provenance import _run_record
from crmlib.runner._published import (
    IDENTIFIER_FIELDS,
    PATH_FIELDS,
    REDACTED,
    notebook_parameters,
    path_replacements,
    publish_notebook,
    published_fingerprints,
    published_params,
    scrub_text,
    scrub_text_file,
)
from crmlib.runner._results import FailureInfo, NotebookOutcome

PROJECT_MARK = "PRIVMARK7f3a"  # in the name of the folder holding the project
DATA_MARK = "DATAMARKc41e"  # in the name of a data folder outside the project
TEMP_MARK = "TMPMARK5e1d"  # in engine.temp_directory
NOTE_MARK = "NOTEMARK0d6b"  # in a free-text params field
ENV_MARK = "envmark9b2c"  # in the runner's environment
MARKS = (PROJECT_MARK, DATA_MARK, TEMP_MARK, NOTE_MARK, ENV_MARK)
OUTSIDE_FORM = re.compile(r"^<outside>#[0-9a-f]{12}/[^/]+$")

SMALL_PARAMS = """\
run_name: private
as_of_date: 2025-06-30
source:
  transactions:
    path: ../data/transactions.csv
    columns: {{amount: order_total}}
    line_items: true
    unit_price_column: price
ingest:
  amount_min: -500.0
segments:
  suppression_list: {suppression}
engine:
  temp_directory: {temp}
"""


def _project(root: Path, *, suppression: str = "../data/suppression.csv") -> Path:
    """``root/PRIVMARK7f3a/project``: params/private.yaml, data/transactions.csv; the params."""
    project = root / PROJECT_MARK / "project"
    (project / "params").mkdir(parents=True)
    (project / "data").mkdir()
    (project / "data" / "transactions.csv").write_text("order_id,customer_id\nO1,C1\n")
    params_file = project / "params" / "private.yaml"
    temp = root / TEMP_MARK / "duckdb"
    params_file.write_text(SMALL_PARAMS.format(suppression=suppression, temp=temp))
    return params_file


def _contains_mark(text: str) -> list[str]:
    return [mark for mark in MARKS if mark.lower() in text.lower()]


# -- the path rule -----------------------------------------------------------------------------------
def test_a_path_inside_the_project_is_relative_to_the_params_folder(tmp_path: Path) -> None:
    params_dir = tmp_path / PROJECT_MARK / "project" / "params"
    project = params_dir.parent
    assert published_path(project / "data" / "a.csv.gz", base=params_dir) == "../data/a.csv.gz"
    assert published_path(params_dir / "default.yaml", base=params_dir) == "default.yaml"
    assert published_path("../data/*.csv", base=params_dir) == "../data/*.csv"  # a glob
    assert published_path(project / "outputs" / "run", base=params_dir) == "../outputs/run"
    assert published_path(project, base=params_dir) == ".."


def test_a_path_outside_the_project_is_a_fingerprint_and_its_name(tmp_path: Path) -> None:
    params_dir = tmp_path / "project" / "params"
    outside = tmp_path / DATA_MARK / "shop" / "orders.csv"
    published = published_path(outside, base=params_dir)
    assert OUTSIDE_FORM.match(published), published
    assert published.endswith("/orders.csv") and not _contains_mark(published)
    # a folder beside the project whose name only starts like it is outside too
    assert published_path(tmp_path / "project-old" / "x.csv", base=params_dir).startswith(
        "<outside>#"
    )


def test_the_fingerprint_is_stable_and_names_the_folder(tmp_path: Path) -> None:
    params_dir = tmp_path / "project" / "params"
    shop, other = tmp_path / "shop", tmp_path / "other"
    first = published_path(shop / "orders.csv", base=params_dir)
    assert published_path(shop / "orders.csv", base=params_dir) == first
    assert published_path(str(shop / "x" / ".." / "orders.csv"), base=params_dir) == first
    fingerprint = first.split("/")[0]
    assert published_path(shop / "refunds.csv", base=params_dir).split("/")[0] == fingerprint
    assert published_path(other / "orders.csv", base=params_dir).split("/")[0] != fingerprint


# -- the params allow-list ---------------------------------------------------------------------------
class _NotedEngine(EngineConfig):
    """An engine section with a free-text field no allow-list names (as a later key might be)."""

    note: str = ""


class _NotedParams(WorkbookParams):
    engine: _NotedEngine = _NotedEngine()


def test_free_text_is_redacted_and_settings_survive(tmp_path: Path) -> None:
    params_file = _project(tmp_path)
    params = _NotedParams.model_validate(
        {
            **yaml.safe_load(params_file.read_text()),
            "engine": {"temp_directory": str(tmp_path / TEMP_MARK), "note": f"ask {NOTE_MARK}"},
        }
    )
    published = published_params(params, base=params_file.parent)

    assert not _contains_mark(json.dumps(published))
    assert published["engine"]["temp_directory"] == REDACTED
    assert published["engine"]["note"] == REDACTED
    assert published["engine"]["memory_limit"] == "2.5GB"
    assert published["engine"]["threads"] is None
    assert (published["run_name"], published["as_of_date"], published["currency"]) == (
        "private",
        "2025-06-30",
        "EUR",
    )
    tx = published["source"]["transactions"]
    assert tx["path"] == "../data/transactions.csv"
    assert tx["columns"] == {"amount": "order_total"}  # schema, kept
    assert tx["line_items"] is True and tx["unit_price_column"] == "price"
    assert tx["format"] == "auto" and tx["delimiter"] == ","
    assert published["ingest"]["amount_min"] == -500.0
    assert published["ingest"]["refund_when"] == ["negative_amount", "negative_quantity"]
    assert published["segments"]["suppression_list"] == "../data/suppression.csv"
    assert published["segments"]["campaigns"][0]["name"] == "winback-at-risk-email"
    assert published["segments"]["campaigns"][0]["control_share"] == 0.1
    assert published["cohorts"]["brackets"][0] == [1, 7]
    assert published["clv"]["horizon_months"] == 12 and published["kpis"]["period"] == "month"
    assert published["ab_test"]["guardrails"] == {
        "unsubscribed": {"margin": 0.005, "worse": "higher"}
    }
    assert published["ab_test"]["ratio_metrics"] == {"revenue_per_order": ["net_revenue", "orders"]}


def test_published_params_keep_every_key(tmp_path: Path) -> None:
    params = load_params(_project(tmp_path))

    def keys(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: keys(item) for key, item in value.items()}
        if isinstance(value, list):
            return [keys(item) for item in value]
        return None

    published = published_params(params, base=params.path.parent)  # type: ignore[union-attr]
    assert keys(published) == keys(params.model_dump(mode="json"))


def test_an_outside_path_in_the_params_is_a_fingerprint(tmp_path: Path) -> None:
    outside = tmp_path / DATA_MARK / "suppression.csv"
    params = load_params(_project(tmp_path, suppression=str(outside)))
    published = published_params(params, base=params.path.parent)  # type: ignore[union-attr]
    assert OUTSIDE_FORM.match(published["segments"]["suppression_list"])
    assert not _contains_mark(json.dumps(published))


def test_the_default_params_publish_nothing_redacted() -> None:
    params = load_params(DEFAULT_PARAMS)
    published = published_params(params, base=DEFAULT_PARAMS.parent)
    assert REDACTED not in json.dumps(published)
    assert published["source"]["transactions"]["path"] == "../data/sample/transactions.csv.gz"
    assert published == json.loads(json.dumps(published))  # plain JSON


def test_every_field_read_relative_to_the_params_file_is_a_path_field() -> None:
    """A new path key must be listed in PATH_FIELDS, or it would be published redacted."""
    models: list[type] = [WorkbookParams]
    described = set()
    while models:
        model = models.pop()
        for name, field in model.model_fields.items():  # type: ignore[attr-defined]
            if "relative to the params file" in (field.description or ""):
                described.add((model, name))
            for candidate in _model_types(field.annotation):
                models.append(candidate)
    assert described and described <= PATH_FIELDS
    assert all(
        name in model.model_fields for model, names in IDENTIFIER_FIELDS.items() for name in names
    )


def _model_types(annotation: Any) -> list[type]:
    from typing import get_args

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [found for arg in get_args(annotation) for found in _model_types(arg)]


# -- run.json --------------------------------------------------------------------------------------
def test_run_record_says_nothing_private(tmp_path: Path) -> None:
    params_file = _project(tmp_path)
    params = load_params(params_file)
    outputs = params_file.parent.parent / "outputs"
    build = outputs / ".private.building-20250101T000000Z-abc"
    final = outputs / "private"
    failure = FailureInfo(
        notebook="02_kpis",
        cell_index=3,
        execution_count=2,
        ename="StageInputMissing",
        evalue=f"artifact 'transactions' not found in {build}",
    )
    started = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    record = _run_record(
        params,
        params_path=params_file,
        status="failed",
        folder=final,
        started=started,
        finished=started + dt.timedelta(seconds=3),
        mode={"only": "02", "from": None, "reused_from": str(final)},
        outcomes=[NotebookOutcome("02_kpis", "kpis", "KPIs")],
        failure=failure,
        fingerprints=input_fingerprints(params),
        versions=package_versions(),
        kernel_name="crm-workbook",
    )

    text = json.dumps(record)
    assert not _contains_mark(text) and str(tmp_path) not in text
    assert record["folder"] == "../outputs/private"
    assert record["params_file"] == "private.yaml"
    assert record["mode"]["reused_from"] == "../outputs/private"
    assert record["params"]["engine"]["temp_directory"] == REDACTED
    (file,) = record["inputs"]["transactions"]["files"]
    assert file["path"] == "../data/transactions.csv" and len(file["sha256"]) == 64
    assert file["size"] == len("order_id,customer_id\nO1,C1\n")
    assert (
        record["failed"]["evalue"]
        == "artifact 'transactions' not found in ../outputs/.private.building-20250101T000000Z-abc"
    )


def test_published_fingerprints_keep_sizes_and_hashes(tmp_path: Path) -> None:
    base = tmp_path / "project" / "params"
    fingerprints = {
        "transactions": {
            "patterns": [str(tmp_path / "project" / "data" / "*.csv")],
            "files": [
                {
                    "path": str(tmp_path / "project" / "data" / "a.csv"),
                    "size": 3,
                    "sha256": "f" * 64,
                }
            ],
            "missing": [str(tmp_path / DATA_MARK / "b.csv")],
        }
    }
    published = published_fingerprints(fingerprints, base=base)["transactions"]
    assert published["patterns"] == ["../data/*.csv"]
    assert published["files"] == [{"path": "../data/a.csv", "size": 3, "sha256": "f" * 64}]
    assert OUTSIDE_FORM.match(published["missing"][0])


# -- scrubbing text and notebooks ------------------------------------------------------------------
def test_scrub_text_replaces_whole_path_components_only() -> None:
    replacements = {"/srv/shop": "..", "/srv/shop/params/a.yaml": "a.yaml"}
    assert scrub_text("/srv/shop/params/a.yaml and /srv/shop/data/x.csv", replacements) == (
        "a.yaml and ../data/x.csv"
    )
    assert scrub_text("/srv/shopping/x and /srv/shop.old", replacements) == (
        "/srv/shopping/x and /srv/shop.old"
    )


def test_outside_folders_are_replaced_as_published_path_names_their_files(tmp_path: Path) -> None:
    outside = tmp_path / DATA_MARK / "suppression.csv"
    params_file = _project(tmp_path, suppression=str(outside))
    params = load_params(params_file)
    final = params_file.parent.parent / "outputs" / "private"
    replacements = path_replacements(params, params_path=params_file, run_dir=final)
    text = scrub_text(f"read {outside} and {outside.parent / 'other.csv'}", replacements)
    assert not _contains_mark(text)
    assert published_path(outside, base=params_file.parent) in text
    assert published_path(outside.parent / "other.csv", base=params_file.parent) in text


def test_scrub_text_file_rewrites_a_log(tmp_path: Path) -> None:
    params_file = _project(tmp_path)
    params = load_params(params_file)
    build = params_file.parent.parent / "outputs" / ".private.building-x"
    log = tmp_path / "01_ingest.kernel.log"
    log.write_text(
        f"warning: spilling to {tmp_path / TEMP_MARK / 'duckdb'}/t.tmp from {build}/data\n"
    )
    scrub_text_file(
        log,
        replacements=path_replacements(
            params, params_path=params_file, run_dir=build.with_name("private"), build_dir=build
        ),
    )
    assert log.read_text() == "warning: spilling to <redacted>/t.tmp from ../outputs/private/data\n"
    scrub_text_file(tmp_path / "absent.log", replacements={"/x": "y"})  # no file: nothing to do


def _executed_notebook(
    path: Path, *, params_file: Path, build: Path, notebook: Path, suppression: Path | None = None
) -> None:
    """A small notebook as papermill writes it, with absolute paths planted in it."""
    injected = {"params_file": str(params_file), "run_dir": str(build), "overrides": {}}
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "crm-workbook",
        "display_name": "Python",
        "language": "python",
    }
    nb.metadata["papermill"] = {
        "input_path": str(notebook),
        "output_path": str(build / "notebooks" / notebook.name),
        "parameters": injected,
        "environment_variables": {"CRM_SECRET_MARK": ENV_MARK},
        "version": "2.7.0",
    }
    parameters = nbformat.v4.new_code_cell('run_dir: str = "../outputs/sample"')
    parameters.metadata["tags"] = ["parameters"]
    lines = [f"{name} = {json.dumps(value)}" for name, value in injected.items()]
    injected_cell = nbformat.v4.new_code_cell("# Parameters\n" + "\n".join(lines) + "\n")
    injected_cell.metadata["tags"] = ["injected-parameters"]
    work = nbformat.v4.new_code_cell("run = RunFolder(run_dir)")
    work.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"wrote {build}/data/rfm.parquet\n"),
        nbformat.v4.new_output("stream", name="stdout", text=f"suppression list: {suppression}\n"),
        nbformat.v4.new_output(
            "error",
            ename="FileNotFoundError",
            evalue=f"{params_file.parent.parent}/data/missing.csv",
            traceback=[f"File {params_file.parent.parent}/crmlib/io.py, line 3"],
        ),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Segments"), parameters, injected_cell, work]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def test_scrub_notebook_leaves_only_published_values(tmp_path: Path) -> None:
    suppression = tmp_path / DATA_MARK / "suppression.csv"
    params_file = _project(tmp_path, suppression=str(suppression))
    params = load_params(params_file)
    project = params_file.parent.parent
    build = project / "outputs" / ".private.building-20250101T000000Z-abc"
    final = project / "outputs" / "private"
    executed = build / "notebooks" / "04_segments.ipynb"
    _executed_notebook(
        executed,
        params_file=params_file,
        build=build,
        notebook=project / "notebooks" / "04_segments.ipynb",
        suppression=suppression,
    )

    publish_notebook(
        executed,
        params=params,
        params_path=params_file,
        build_dir=build,
        run_dir=final,
    )

    text = executed.read_text()
    assert not _contains_mark(text) and str(tmp_path) not in text
    nb = nbformat.read(executed, as_version=4)
    nbformat.validate(nb)
    expected = notebook_parameters(params, params_path=params_file, run_dir=final)
    assert nb.metadata["papermill"]["parameters"] == expected
    assert expected["run_dir"] == "../outputs/private" and expected["params_file"] == "private.yaml"
    assert expected["overrides"] == {}  # no path of the params file is injected
    assert nb.metadata["papermill"]["environment_variables"] == {}
    assert nb.metadata["papermill"]["input_path"] == "../notebooks/04_segments.ipynb"
    assert (
        nb.metadata["papermill"]["output_path"] == "../outputs/private/notebooks/04_segments.ipynb"
    )
    injected = nb.cells[2].source
    assert injected.startswith("# Parameters\n")
    assert 'run_dir = "../outputs/private"' in injected
    assert 'params_file = "private.yaml"' in injected
    assert nb.cells[1].source == 'run_dir: str = "../outputs/sample"'  # the declared defaults stay
    assert nb.cells[3].outputs[0]["text"] == "wrote ../outputs/private/data/rfm.parquet\n"
    listed = nb.cells[3].outputs[1]["text"].removeprefix("suppression list: ").strip()
    assert OUTSIDE_FORM.match(listed), listed  # a private path printed by a cell is published
    assert nb.cells[3].outputs[2]["traceback"] == ["File ../crmlib/io.py, line 3"]


# -- whole runs (slow) -------------------------------------------------------------------------------
def _relocated(value: Any, data: Path) -> Any:
    """A params mapping whose sample paths (``../data/sample/x``) are ``data/x``, absolute."""
    if isinstance(value, dict):
        return {key: _relocated(item, data) for key, item in value.items()}
    if isinstance(value, list):
        return [_relocated(item, data) for item in value]
    if isinstance(value, str) and value.startswith("../data/sample/"):
        return str(data / value.removeprefix("../data/sample/"))
    return value


def _text_of(path: Path) -> str:
    """A file's text; for parquet, its metadata and every cell."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        metadata = b"".join(k + v for k, v in (table.schema.metadata or {}).items())
        return metadata.decode("utf-8", "replace") + table.to_pandas().astype(str).to_csv()
    return path.read_bytes().decode("utf-8", "replace")


def _published_files(run_dir: Path, suffixes: set[str] | None = None) -> list[Path]:
    """Files of a run folder, exports/ excepted (the activation lists hold customer ids)."""
    return [
        path
        for path in sorted(run_dir.rglob("*"))
        if path.is_file()
        and path.relative_to(run_dir).parts[0] != "exports"
        and (suffixes is None or path.suffix in suffixes)
    ]


@pytest.fixture(scope="module")
def private_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The real CLI on the sample, from a marked folder, with marked paths, temp dir and env."""
    require_sample()
    root = tmp_path_factory.mktemp("private")
    data = root / DATA_MARK / "shop"
    shutil.copytree(SAMPLE, data)
    params = _relocated(yaml.safe_load(DEFAULT_PARAMS.read_text()), data)
    params["run_name"] = "private"
    params["engine"]["temp_directory"] = str(root / TEMP_MARK / "duckdb")
    params_file = root / PROJECT_MARK / "project" / "params" / "private.yaml"
    params_file.parent.mkdir(parents=True)
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    outputs = params_file.parent.parent / "outputs"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "crmlib.cli",
            "run",
            "--params",
            str(params_file),
            "--outputs",
            str(outputs),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "CRM_SECRET_MARK": ENV_MARK},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    return result, outputs / "private"


@pytest.mark.slow
def test_no_file_of_a_run_names_a_private_folder_the_temp_dir_or_the_environment(
    private_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """Needs the runner to scrub each executed notebook (scrub_notebook) and its kernel log."""
    result, run_dir = private_run
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    found = {
        path.relative_to(run_dir).as_posix(): marks
        for path in _published_files(run_dir)
        if (marks := _contains_mark(_text_of(path)))
    }
    assert not found, f"private values in the run folder: {found}"
    record = json.loads((run_dir / "run.json").read_text())
    assert record["folder"] == "../outputs/private" and record["params_file"] == "private.yaml"
    assert OUTSIDE_FORM.match(record["params"]["source"]["transactions"]["path"])


def _detect_secrets(folder: Path) -> dict[str, Any]:
    """detect-secrets' findings in ``folder`` (exports/ excepted).

    The entropy plugins are off: a run folder holds base64 PNG charts and SHA-256 input
    fingerprints, high-entropy by nature; every credential detector (keys, tokens, private
    keys, passwords in URLs, ``password = ...``) is on.
    """
    scan = subprocess.run(
        [
            sys.executable, "-m", "detect_secrets", "scan", "--all-files",
            "--disable-plugin", "Base64HighEntropyString",
            "--disable-plugin", "HexHighEntropyString",
            "--exclude-files", "^exports/",
            ".",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )  # fmt: skip
    return json.loads(scan.stdout)["results"]


def test_detect_secrets_finds_a_planted_key(tmp_path: Path) -> None:
    """The scan used on the sample run finds what it is meant to find."""
    (tmp_path / "run.json").write_text(
        json.dumps({"dsn": "postgres://crm:Sup3rS3cretPassw0rd@db.example.com/crm"}) + "\n"
    )
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "list.csv").write_text('password = "Sup3rS3cretPassw0rd"\n')
    assert list(_detect_secrets(tmp_path)) == ["run.json"]


@pytest.mark.slow
def test_detect_secrets_finds_nothing_in_the_sample_run(
    sample_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, outputs = sample_run
    assert result.returncode == 0, result.stderr
    assert _detect_secrets(outputs / "sample") == {}


@pytest.mark.slow
def test_no_customer_id_outside_the_exports(
    sample_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, outputs = sample_run
    assert result.returncode == 0, result.stderr
    ids = sample_customer_ids(50)
    pattern = re.compile(
        r"(?<![A-Za-z0-9])(?:" + "|".join(map(re.escape, ids)) + r")(?![A-Za-z0-9])"
    )
    run_dir = outputs / "sample"
    files = _published_files(run_dir, {".html", ".json", ".ipynb", ".log"})
    assert {path.suffix for path in files} == {".html", ".json", ".ipynb", ".log"}
    found = {
        path.relative_to(run_dir).as_posix(): sorted(
            set(pattern.findall(path.read_text(errors="replace")))
        )[:5]
        for path in files
        if pattern.search(path.read_text(errors="replace"))
    }
    assert not found, f"customer ids outside exports/: {found}"


def test_a_spark_master_that_names_a_host_or_a_token_is_redacted(tmp_path: Path) -> None:
    base = {"run_name": "x", "as_of_date": "2025-12-31",
            "source": {"transactions": {"postgres": {"dsn_env": "SHOP_DSN", "query": "SELECT 1"}}}}  # fmt: skip
    for master, shown in [("local[2]", "local[2]"), ("yarn", "yarn"),
                          ("sc://spark.internal:15002/;token=s3cret", "<redacted>"),
                          ("spark://10.0.0.5:7077", "<redacted>")]:  # fmt: skip
        params = WorkbookParams.model_validate(
            {**base, "engine": {"name": "spark", "master": master}}
        )
        published = published_params(params, base=tmp_path)
        assert published["engine"]["master"] == shown
        postgres = published["source"]["transactions"]["postgres"]
        assert postgres["dsn_env"] == "SHOP_DSN" and postgres["query"] == "<redacted>"
