"""The whole workbook on the CDNOW sample shipped with lifetimes, as a user would run it.

Known answers (calibration period 1997-01-01 to 1997-09-30, 39 weeks, 2,357 customers):
BG/NBD r 0.243, alpha 4.414, a 0.793, b 2.426, LL -9582.4 (Fader, Hardie & Lee 2005,
"Counting your customers the easy way", Marketing Science 24(2)); Pareto/NBD r 0.553,
alpha 10.578, s 0.606, beta 11.669, LL -9595.0 (Fader, Hardie & Lee 2005, "RFM and CLV",
JMR 42(4), and Hardie's note "Implementing the Pareto/NBD model").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO_ROOT, run_module_cli

pytestmark = pytest.mark.slow

PUBLISHED = {
    "bgnbd": ({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, -9582.4),
    "paretonbd": ({"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}, -9595.0),
}


def _run_cdnow(root: Path, **clv: Any) -> dict[str, Any]:
    """crm-workbook datasets cdnow, then run on params/cdnow.yaml (``clv`` keys overridden)."""
    params = yaml.safe_load((REPO_ROOT / "params" / "cdnow.yaml").read_text(encoding="utf-8"))
    params["clv"] = {**params.get("clv", {}), **clv}
    (root / "params").mkdir(parents=True)
    (root / "params" / "cdnow.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    copied = run_module_cli("datasets", "cdnow", "--out", root / "data" / "external")
    assert copied.returncode == 0, copied.stderr
    outputs = root / "outputs"
    result = run_module_cli("run", "--params", root / "params" / "cdnow.yaml", "--outputs", outputs)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads((outputs / "cdnow" / "metrics.json").read_text(encoding="utf-8"))


def _matches_published(row: dict[str, Any]) -> None:
    parameters, log_likelihood = PUBLISHED[row["model"]]
    assert row["converged"], row
    assert row["parameters"] == pytest.approx(parameters, rel=2e-3), row["model"]
    assert row["log_likelihood"] == pytest.approx(log_likelihood, abs=0.1), row["model"]


def test_bgnbd_alone_reproduces_fader_hardie_lee(tmp_path: Path) -> None:
    """clv.models: [bgnbd]: 2,357 customers (the 8 whose only CD cost $0.00 included) and the
    published calibration fit, to 0.2%."""
    metrics = _run_cdnow(tmp_path, models=["bgnbd"])
    clv = metrics["clv"]
    assert clv["unit"] == "week" and clv["customers"] == 2_357
    assert clv["model"] == "bgnbd" and clv["converged"] and clv["fallback"] is None
    assert [row["model"] for row in clv["comparison"]] == ["bgnbd"]
    _matches_published(clv["comparison"][0])
    assert metrics["ingest"]["verdict"] == "pass"


def test_every_model_is_compared_with_the_literature(tmp_path: Path) -> None:
    """The default candidates: metrics.json["clv"]["comparison"] holds every model's
    parameters, log-likelihood and convergence; BG/NBD and Pareto/NBD match the papers."""
    metrics = _run_cdnow(tmp_path / "all")
    clv = metrics["clv"]
    rows = {row["model"]: row for row in clv["comparison"]}
    assert set(rows) == {"bgnbd", "mbgnbd", "paretonbd"}
    for row in rows.values():
        assert {"parameters", "log_likelihood", "converged"} <= set(row)
        assert row["converged"] and row["eligible"], row
    _matches_published(rows["bgnbd"])
    _matches_published(rows["paretonbd"])
    assert sum(row["chosen"] for row in rows.values()) == 1
    assert rows[clv["model"]]["chosen"] and clv["fallback"] is None
