"""The whole workbook with ``engine: spark`` (params/spark.yaml) equals the DuckDB run of the sample.

The runner executes the seven notebooks as a scheduler would; stages 02-07 run every query on a
local SparkSession (sqlglot-transpiled), 01_ingest reads the files on DuckDB (ingest on Spark is
not built yet). Every artifact and metrics.json must equal the committed sample reference
(tests/sample_reference.py: integers and text exact, floats to 1e-9, numbers from a model fit to
1e-6). A Spark session that cannot start (no Java 17) fails the run, and so this test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT, require_sample, run_module_cli, with_previous_report
from sample_reference import REFERENCE, differences, fingerprint

pytestmark = pytest.mark.slow


def test_the_sample_on_spark_gives_the_duckdb_report(
    tmp_path: Path, previous_sample_report: Path
) -> None:
    """The same month's report on Spark, after the same previous report (its DuckDB run)."""
    require_sample()
    with_previous_report(previous_sample_report, tmp_path, "spark")
    result = run_module_cli("run", "--params", "params/spark.yaml", "--outputs", tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = tmp_path / "spark"
    assert (
        json.loads((run_dir / "run.json").read_text("utf-8"))["params"]["engine"]["name"] == "spark"
    )
    assert differences(json.loads(REFERENCE.read_text()), fingerprint(run_dir)) == []


def test_an_experiment_export_alone_gives_the_same_analysis_on_spark(tmp_path: Path) -> None:
    """params/ab_export_only.yaml: the export is read on DuckDB, the analysis runs on Spark."""
    params = yaml.safe_load((REPO_ROOT / "params" / "ab_export_only.yaml").read_text("utf-8"))
    export = params["source"]["experiment_export"]
    export["path"] = str((REPO_ROOT / "params" / export["path"]).resolve())
    metrics = {}
    for name in ("duckdb", "spark"):
        params["engine"] = {"name": name, "master": "local[1]"}
        params["run_name"] = name
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(params), encoding="utf-8")
        result = run_module_cli("run", "--params", path, "--outputs", tmp_path / "out")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        metrics[name] = json.loads((tmp_path / "out" / name / "metrics.json").read_text("utf-8"))
    assert metrics["duckdb"]["ab_test"] and differences(metrics["duckdb"], metrics["spark"]) == []
