"""Engine conformance: every query of stages 01-07 gives the same result on DuckDB and Spark.

The stages run in this process on a :class:`dual_engine.DualEngine`: each statement runs on
both engines and the first difference fails the test, naming the query and the column
(integers, text, dates and flags identical; floats within 1e-9 relative; row order free).
01_ingest reads each source file on both engines too (:meth:`Engine.load_file`: DuckDB's
reader and Spark's, compared row by row) and writes the artifacts from DuckDB's side. Four
worlds: a synthetic shop with all six tables (its cohorts run once more by signup date), the
three-customer export of tests/test_e2e_real_data.py (bad values, a guest, a refund, a
single-class holdout), the same seen two years later (nobody active) and the hand-made ugly
shop (12 customers, decimal commas, line items, refunds). Together they must run every SQL
file of crmlib/sql on both engines. The sample itself is compared end to end in
tests/test_e2e_spark.py.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT
from dual_engine import DualEngine, run_notebooks_in_process
from test_e2e_real_data import TINY_ORDERS, UGLY_SHOP

import crmlib as crm
from crmlib.churn.queries import active_customers_count
from crmlib.engine import Engine, SparkEngine

pytestmark = pytest.mark.slow

STAGES = ("02_kpis", "03_cohorts", "04_segments", "05_clv", "06_churn", "07_ab_test")


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkEngine]:
    engine = SparkEngine(master="local[2]", conf={"spark.sql.shuffle.partitions": "2"})
    yield engine
    engine.close()


def _synthetic(folder: Path) -> Path:
    data = folder / "data"
    written = subprocess.run(
        [sys.executable, "-m", "crmlib.synth", "--customers", "400", "--seed", "7", "--out", str(data)],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    params = yaml.safe_load((REPO_ROOT / "params" / "default.yaml").read_text("utf-8"))
    for table in (
        "transactions",
        "customers",
        "events",
        "assignments",
        "surveys",
        "marketing_spend",
    ):
        params["source"][table] = {"path": str(next(data.glob(f"{table}.csv*")))}
    for section in ("segments", "churn"):
        params[section]["suppression_list"] = str(REPO_ROOT / "data" / "sample" / "suppression.csv")
    params["run_name"] = "synthetic"
    path = folder / "synthetic.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


def _tiny(folder: Path) -> Path:
    (folder / "orders.csv").write_text(TINY_ORDERS, encoding="utf-8")
    params = {
        "run_name": "tiny", "as_of_date": "2025-12-31",
        "source": {"transactions": {"path": str(folder / "orders.csv")}},
        "ingest": {"reject_share_warn": 0.4, "reject_share_fail": 0.5},
    }  # fmt: skip
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


def _ugly(folder: Path) -> Path:
    return UGLY_SHOP / "ugly_shop.yaml"


def _dormant(folder: Path) -> Path:
    """The three customers seen two years later: nobody is active at any churn cutoff."""
    path = _tiny(folder)
    params = yaml.safe_load(path.read_text("utf-8"))
    params["as_of_date"] = "2027-12-31"
    params["ingest"]["run_date"] = "2027-12-31"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


WORLDS = {"synthetic": _synthetic, "tiny": _tiny, "ugly_shop": _ugly, "dormant": _dormant}
#: Branches the default params do not take, run once more on the synthetic world: cohorts by
#: signup date, and without the first-category split.
SIGNUP_COHORTS = {"cohort_basis": "signup", "dimensions": ["acquisition_channel"]}
RAN: set[str] = set()


@pytest.mark.parametrize("world", list(WORLDS))
def test_every_stage_query_agrees_on_both_engines(
    world: str, spark: SparkEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params_file = WORLDS[world](tmp_path)
    params = crm.config.load_params(params_file)
    run_dir = tmp_path / "run"
    dual = DualEngine(spark)
    monkeypatch.setattr(Engine, "from_config", staticmethod(lambda config: dual))
    try:
        crm.ingest.run_ingest(params, crm.io.RunFolder(str(run_dir)), engine=dual)
        notebooks = REPO_ROOT / "notebooks"
        run_notebooks_in_process(notebooks, STAGES, params_file=params_file, run_dir=run_dir)
        if world == "synthetic":
            run_notebooks_in_process(
                notebooks, ["03_cohorts"], params_file=params_file, run_dir=run_dir,
                overrides=SIGNUP_COHORTS,
            )  # fmt: skip
            # a public helper no stage calls
            dual.register_parquet("transactions", run_dir / "data" / "transactions.parquet")
            assert active_customers_count(dual, cutoff=params.as_of_date) > 0
    finally:
        dual.close()  # DuckDB closed, this world's Spark views dropped
    assert dual.ran, "no query ran"
    RAN.update(dual.ran)


def test_the_worlds_ran_every_sql_file_on_both_engines() -> None:
    """Runs after the worlds (same module, in order): each SQL file ran at least once."""
    if not RAN:
        pytest.fail("the worlds did not run (run this module whole)")
    expected = {p.stem for p in (REPO_ROOT / "crmlib" / "sql").glob("*.sql")}
    missing = sorted(expected - RAN)
    assert not missing, f"never run on both engines: {missing}"
