"""Tests of the CDNOW data set command: files, row counts, the CLI, and the user's path through 01_ingest."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmlib import cli
from crmlib.clv.queries import customer_summary
from crmlib.config import load_params
from crmlib.datasets import CDNOW_FILES, CDNOW_ROWS, cdnow_source_dir, copy_cdnow, read_cdnow
from crmlib.engine import Engine
from crmlib.errors import SourceFileError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def copied(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return copy_cdnow(tmp_path_factory.mktemp("external"))


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype="str", keep_default_na=False)


def test_copy_writes_both_logs_with_documented_counts(copied: dict[str, Path]) -> None:
    assert {which: path.name for which, path in copied.items()} == CDNOW_FILES
    # lifetimes 0.11.3: 6,919 sample rows (2,357 customers), 69,659 master rows (23,570)
    expected = {"sample": (6_919, 2_357), "master": (69_659, 23_570)}
    for which, path in copied.items():
        rows = _read(path)
        assert list(rows.columns) == ["order_id", "customer_id", "order_ts", "amount", "quantity"]
        assert (len(rows), rows["customer_id"].nunique()) == expected[which]
        assert len(rows) == CDNOW_ROWS[which]
        assert rows["order_id"].tolist() == [f"row-{n}" for n in range(1, len(rows) + 1)]
        assert rows["order_ts"].str.fullmatch(r"199[78]-\d\d-\d\d 00:00:00").all()
        assert (rows["order_ts"].min(), rows["order_ts"].max()) == (
            "1997-01-01 00:00:00", "1998-06-30 00:00:00",
        )  # fmt: skip
        assert rows["amount"].str.fullmatch(r"\d+\.\d\d").all()
        assert rows["quantity"].str.fullmatch(r"[1-9]\d*").all()
    assert path.read_bytes().endswith(b"\n") and b"\r" not in path.read_bytes()


def test_copy_keeps_the_source_values(copied: dict[str, Path]) -> None:
    sample = _read(copied["sample"])
    # CDNOW_sample.txt's first line: " 00004 0001 19970101  2   29.33" (master id, sample id, ...)
    assert sample.iloc[0].to_dict() == {
        "order_id": "row-1", "customer_id": "0001", "order_ts": "1997-01-01 00:00:00",
        "amount": "29.33", "quantity": "2",
    }  # fmt: skip
    source = pd.read_csv(
        cdnow_source_dir() / "CDNOW_sample.txt", sep=r"\s+", header=None, dtype="str"
    )
    assert sample["customer_id"].tolist() == source[1].tolist()
    assert sample["amount"].tolist() == source[4].tolist()
    assert (sample["amount"] == "0.00").sum() == 8
    master = _read(copied["master"])
    assert master.iloc[0]["customer_id"] == "00001"
    assert (master["amount"] == "0.00").sum() == 80
    # the exact repeats that ingest would reject as duplicate_row without an order_id
    content = ["customer_id", "order_ts", "amount", "quantity"]
    assert (sample.duplicated(content).sum(), master.duplicated(content).sum()) == (21, 255)


def test_copy_is_repeatable(copied: dict[str, Path], tmp_path: Path) -> None:
    again = copy_cdnow(tmp_path)
    for which, path in again.items():
        assert path.read_bytes() == copied[which].read_bytes()


def test_cli_writes_and_prints_the_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nested" / "external"
    assert cli.main(["datasets", "cdnow", "--out", str(out)]) == cli.EXIT_OK
    printed = capsys.readouterr().out.splitlines()
    assert printed == [f"{which}: {out / name}" for which, name in CDNOW_FILES.items()]
    assert all((out / name).is_file() for name in CDNOW_FILES.values())


def test_cli_reports_a_folder_it_cannot_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert cli.main(["datasets", "cdnow", "--out", str(blocker)]) == cli.EXIT_CONFIG
    assert "Cannot write the cdnow data set" in capsys.readouterr().err


def test_cli_refuses_an_unknown_data_set(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["datasets", "iris"])
    assert exited.value.code == 2
    assert "invalid choice: 'iris'" in capsys.readouterr().err


def test_missing_lifetimes_is_explained(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "lifetimes" else real_find_spec(name, *a),
    )
    with pytest.raises(SourceFileError, match="pip install lifetimes"):
        copy_cdnow(tmp_path)
    assert cli.main(["datasets", "cdnow", "--out", str(tmp_path)]) == cli.EXIT_CONFIG
    assert "lifetimes package, which is not installed" in capsys.readouterr().err


def test_read_cdnow_checks_its_argument() -> None:
    with pytest.raises(ValueError, match="which='full'"):
        read_cdnow("full")


def test_copy_does_not_import_lifetimes(tmp_path: Path) -> None:
    """lifetimes changes warning filters on import; writing the CSVs must not import it."""
    code = (
        "import sys; from crmlib.datasets import copy_cdnow; "
        f"copy_cdnow({str(tmp_path)!r}); assert 'lifetimes' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


@pytest.mark.parametrize(
    ("name", "file"),
    [("cdnow", "cdnow_sample_transactions.csv"), ("cdnow_master", "cdnow_master_transactions.csv")],
)
def test_params_files_load(name: str, file: str) -> None:
    params = load_params(ROOT / "params" / f"{name}.yaml")
    assert (params.run_name, str(params.as_of_date), params.currency) == (
        name, "1998-06-30", "USD",
    )  # fmt: skip
    assert params.resolve(params.source.transactions.path) == ROOT / "data" / "external" / file
    assert params.source.customers is None and params.segments.suppression_list is None


def test_user_path_through_ingest_gives_the_published_summary(
    copied: dict[str, Path], tmp_path: Path
) -> None:
    """params/cdnow.yaml on the copied sample: 01_ingest, then the calibration summary.

    Every row is accepted and every row is a purchase (the 8 zero-dollar CDs too, by
    ``ingest.zero_value_orders: purchase``), so all 2,357 customers match lifetimes' published
    cdnow_customers_summary.csv (frequency exact, recency and T to its 2 decimals).
    """
    from crmlib.ingest import run_ingest
    from crmlib.io import RunFolder

    params = load_params(
        ROOT / "params" / "cdnow.yaml",
        overrides={"source": {"transactions": {"path": str(copied["sample"])}}},
    )
    run = RunFolder(tmp_path / "cdnow")
    result = run_ingest(params, run)
    assert result.verdict == "pass"
    with Engine(threads=2) as engine:
        run.register(engine, "transactions")
        counts = engine.query(
            "SELECT count(*) AS n_rows, sum(CAST(is_purchase AS INTEGER)) AS purchases "
            "FROM transactions"
        ).iloc[0]
        assert (counts["n_rows"], counts["purchases"]) == (6_919, 6_919)
        summary = customer_summary(engine, observation_end="1997-09-30", unit="week")
    published = pd.read_csv(cdnow_source_dir() / "cdnow_customers_summary.csv")
    summary["ID"] = summary["customer_id"].astype("int64")
    joined = published.merge(summary, on="ID", how="left", suffixes=("_published", ""))
    assert len(summary) == len(published) == 2_357
    found = joined.dropna(subset=["frequency"])
    assert len(found) == 2_357
    np.testing.assert_array_equal(found["frequency"], found["frequency_published"])
    np.testing.assert_allclose(found["recency"], found["recency_published"], rtol=0, atol=0.005)
    np.testing.assert_allclose(found["T"], found["T_published"], rtol=0, atol=0.005)
