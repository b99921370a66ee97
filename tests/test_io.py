"""crmlib.io: run-folder artifacts, metrics.json one key per stage, missing inputs named."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmlib.errors import StageInputMissing
from crmlib.io import RunFolder, to_jsonable, write_json_atomic


def test_table_round_trip(tmp_path):
    run = RunFolder(tmp_path / "run")
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "amount": [1.0, np.nan],
            "ts": pd.to_datetime(["2025-01-01", None]),
        }
    )
    run.write_table("transactions", frame)
    assert run.has_table("transactions")
    pd.testing.assert_frame_equal(run.read_table("transactions"), frame, check_dtype=False)
    assert not list((tmp_path / "run" / "data").glob(".*"))  # no temp file left behind


def test_missing_artifact_names_the_notebook_to_run(tmp_path):
    run = RunFolder(tmp_path)
    with pytest.raises(StageInputMissing, match="run notebook 02_kpis first"):
        run.read_table("kpis_by_period")
    with pytest.raises(StageInputMissing, match="01_ingest"):
        run.read_json("quality")


def test_metrics_keep_one_key_per_stage(tmp_path):
    run = RunFolder(tmp_path)
    run.write_metrics("ingest", {"rows_read": np.int64(10), "share": np.float64(0.5)})
    run.write_metrics("kpis", {"conclusion": "ok"})
    run.write_metrics("ingest", {"rows_read": 11})
    assert run.read_metrics() == {"ingest": {"rows_read": 11}, "kpis": {"conclusion": "ok"}}


def test_register_optional_skips_absent_tables(tmp_path):
    from crmlib.engine import Engine

    run = RunFolder(tmp_path)
    run.write_table("transactions", pd.DataFrame({"a": [1, 2]}))
    with Engine(threads=1) as engine:
        assert run.register(engine, "transactions", "events", optional=True) == ["transactions"]
        assert engine.scalar("select sum(a) from transactions") == 3
        with pytest.raises(StageInputMissing, match="events"):
            run.register(engine, "events")


def test_to_jsonable_handles_numpy_nan_and_dates(tmp_path):
    payload = {
        "n": np.int32(3),
        "x": np.float32(np.nan),
        "d": pd.Timestamp("2025-01-02"),
        "b": np.bool_(True),
    }
    path = write_json_atomic(tmp_path / "m.json", payload)
    assert json.loads(path.read_text()) == {
        "n": 3,
        "x": None,
        "d": "2025-01-02T00:00:00",
        "b": True,
    }
    assert to_jsonable([np.array([1, 2])]) == [[1, 2]]
    assert path.stat().st_mode & 0o777 == 0o644  # readable by the people the report is for


def test_previous_table_inside_a_build_reads_the_finished_sibling(tmp_path: Path) -> None:
    finished = RunFolder(tmp_path / "sample")
    finished.write_table("rfm", pd.DataFrame({"customer_id": ["A"], "segment": ["Lost"]}))
    build = RunFolder(tmp_path / ".sample.building-20261123T070000Z-ab12cd")
    assert build.previous_root() == tmp_path / "sample"
    previous = build.read_previous_table("rfm")
    assert previous is not None and previous["segment"].tolist() == ["Lost"]
    assert build.read_previous_table("clusters") is None
    # a hand-run notebook in the finished folder reads its own previous artifact
    assert finished.previous_root() == finished.root
    assert finished.read_previous_table("rfm", columns=["segment"]).columns.tolist() == ["segment"]
    # an artifact written before a column existed is no previous artifact for that column
    assert finished.read_previous_table("rfm", columns=["segment", "cluster_name"]) is None
    assert RunFolder(tmp_path / "fresh").read_previous_table("rfm") is None
