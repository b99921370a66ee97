"""What a run of the embedded sample computes, as a comparable fingerprint (tests/test_e2e.py).

The speed work on the workbook (shared per-customer facts, sampled refits) must not change a
number on the sample: every artifact of ``data/`` and ``metrics.json`` are compared with the
values committed in ``tests/data/sample_reference.json``. A table is compared by its row count
and, per column, either a SHA-256 of its sorted values as text (whole numbers, text, dates,
flags: exact, whatever the row order) or, for floats, the count of missing values and the sum,
sum of absolute values, minimum and maximum (relative tolerance 1e-9: the same arithmetic in
another order). ``metrics.json`` is compared value by value, floats to 1e-9.

Numbers that come out of an iterative model fit (the BTYD model's parameters and everything
valued with them: ``metrics.clv``, the ``clv`` artifact, the values in ``churn_scores`` and the
churn stage's value at risk) are compared to 1e-6 instead (:data:`FIT_TOLERANCE`). A CPU with
other vector instructions computes ``log`` and ``exp`` to another last bit, and an optimiser
with a numerical gradient turns that into a different last 1e-9 of its optimum (seen: the
Pareto/NBD parameters 1.3e-9 apart on two machines running the same code); 1e-6 is the
agreement issue 18 asks of a fit on identical inputs on another engine.

Regenerate after a change that is meant to change the numbers (and say why in the commit)::

    .venv/bin/crm-workbook run --params params/default.yaml --outputs /tmp/ref
    .venv/bin/python tests/sample_reference.py /tmp/ref/sample
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd

REFERENCE = Path(__file__).resolve().parent / "data" / "sample_reference.json"
#: Relative (and, near zero, absolute) tolerance for floats.
TOLERANCE = 1e-9
#: The tolerance of numbers downstream of an iterative model fit, and where they are.
FIT_TOLERANCE = 1e-6
FIT_DERIVED = (
    ".metrics.clv.",
    ".artifacts.clv.",
    ".artifacts.churn_scores.columns.value",  # and value_at_risk
    ".artifacts.churn_scores.columns.expected_net_value.",
    ".metrics.churn.value_at_risk",
    ".metrics.churn.contact.",
)


def _column(values: pd.Series) -> dict[str, Any]:
    if pd.api.types.is_float_dtype(values.dtype):
        finite = values.dropna().astype("float64")
        return {
            "kind": "float",
            "missing": int(values.isna().sum()),
            "sum": float(finite.sum()),
            "sum_abs": float(finite.abs().sum()),
            "min": float(finite.min()) if len(finite) else None,
            "max": float(finite.max()) if len(finite) else None,
        }
    text = sorted("<NA>" if pd.isna(value) else str(value) for value in values.tolist())
    digest = hashlib.sha256("\n".join(text).encode("utf-8")).hexdigest()
    return {"kind": "exact", "sha256": digest}


def fingerprint(run_dir: Path) -> dict[str, Any]:
    """Every artifact of ``run_dir/data`` (rows, columns) and the run's ``metrics.json``."""
    artifacts = {}
    for path in sorted((run_dir / "data").glob("*.parquet")):
        table = pd.read_parquet(path)
        artifacts[path.stem] = {
            "rows": len(table),
            "columns": {str(name): _column(table[name]) for name in table.columns},
        }
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    return {"artifacts": artifacts, "metrics": metrics}


def _close(a: float, b: float, where: str = "") -> bool:
    tolerance = FIT_TOLERANCE if where.startswith(FIT_DERIVED) else TOLERANCE
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)


def differences(expected: Any, found: Any, where: str = "") -> list[str]:
    """Every place where ``found`` departs from ``expected`` (floats within the tolerance)."""
    if isinstance(expected, dict) and isinstance(found, dict):
        out = [f"{where}.{key}: missing" for key in expected if key not in found]
        out += [f"{where}.{key}: new" for key in found if key not in expected]
        for key in expected:
            if key in found:
                out += differences(expected[key], found[key], f"{where}.{key}")
        return out
    if isinstance(expected, list) and isinstance(found, list):
        if len(expected) != len(found):
            return [f"{where}: {len(found)} items, expected {len(expected)}"]
        return [d for i, (e, f) in enumerate(zip(expected, found, strict=True))
                for d in differences(e, f, f"{where}[{i}]")]  # fmt: skip
    numbers = (int, float)
    if (
        isinstance(expected, numbers) and isinstance(found, numbers)
        and not isinstance(expected, bool) and not isinstance(found, bool)
        and (isinstance(expected, float) or isinstance(found, float))
    ):  # fmt: skip
        return (
            []
            if _close(float(expected), float(found), where)
            else [f"{where}: {found!r}, expected {expected!r}"]
        )
    return [] if expected == found else [f"{where}: {found!r}, expected {expected!r}"]


if __name__ == "__main__":
    run = Path(sys.argv[1])
    REFERENCE.write_text(json.dumps(fingerprint(run), indent=1, sort_keys=True) + "\n", "utf-8")
    print(f"wrote {REFERENCE} from {run}")
