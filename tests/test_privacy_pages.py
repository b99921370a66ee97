"""The small-cell rule on a small shop: every page of a 300-customer run, at two limits.

The embedded sample (5,000 customers) is scanned in ``tests/test_e2e.py``. A shop of 300
customers is where the rule bites: segments, channels, cohorts, campaign funnels and experiment
arms of fewer than 10 customers are common. The synthetic generator writes the shop (its own
CLI, seed fixed); the whole workbook runs on it through the real CLI with ``privacy.min_cell_size``
10 (the default) and 25, and :func:`crmlib.privacy.small_counts_in_html` reads every table and
sentence of every page for a customer count from 1 to the limit - 1.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import DEFAULT_PARAMS, REPO_ROOT, run_module_cli, small_counts_on_pages

pytestmark = pytest.mark.slow

SHOP_CUSTOMERS = 300
SHOP_SEED = 4


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-customer shop written by the generator's CLI (all six tables, a suppression list)."""
    data = tmp_path_factory.mktemp("shop300") / "data"
    written = subprocess.run(
        [sys.executable, "-m", "crmlib.synth", "--customers", str(SHOP_CUSTOMERS),
         "--seed", str(SHOP_SEED), "--out", str(data)],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    return data


def _params_for(shop: Path, folder: Path, *, min_cell_size: int) -> Path:
    """params/default.yaml pointed at the shop, with ``privacy.min_cell_size`` set."""
    params = yaml.safe_load(DEFAULT_PARAMS.read_text("utf-8"))
    params["run_name"] = f"shop-k{min_cell_size}"
    for table in params["source"]:  # the four core tables, surveys and marketing_spend
        params["source"][table]["path"] = str(shop / f"{table}.csv")
    for section in ("segments", "churn"):
        if params[section].get("suppression_list"):
            params[section]["suppression_list"] = str(shop / "suppression.csv")
    params["privacy"] = {"min_cell_size": min_cell_size}
    path = folder / f"shop-k{min_cell_size}.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("min_cell_size", [10, 25])
def test_no_page_of_a_small_shop_shows_a_small_customer_count(
    shop: Path, tmp_path: Path, min_cell_size: int
) -> None:
    params = _params_for(shop, tmp_path, min_cell_size=min_cell_size)
    result = run_module_cli("run", "--params", params, "--outputs", tmp_path / "outputs")
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    run_dir = tmp_path / "outputs" / f"shop-k{min_cell_size}"
    record = json.loads((run_dir / "run.json").read_text("utf-8"))
    assert record["params"]["privacy"] == {"min_cell_size": min_cell_size}
    assert all(entry["status"] == "ok" for entry in record["notebooks"].values())
    found = small_counts_on_pages(run_dir, min_cell_size=min_cell_size)
    assert found == [], "\n".join(found)
