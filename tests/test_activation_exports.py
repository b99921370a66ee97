"""Tests of activation exports: the CSV lists, the manifest without ids, stale files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_activation_audience import (
    AS_OF,
    HAND_CUSTOMERS,
    HAND_MEMBERS,
    HAND_SUPPRESSION,
    WINBACK,
    funnel_counts,
    hand_engine,
)

from crmlib.activation.audience import FUNNEL_COLUMNS, build_audience, lookalike_seed
from crmlib.activation.campaigns import Campaign
from crmlib.activation.exports import write_exports
from crmlib.activation.text import describe_activation
from crmlib.engine import Engine
from crmlib.io import RunFolder


@pytest.fixture
def engine() -> Iterator[Engine]:
    with hand_engine() as eng:
        yield eng


# -- writing the exports --------------------------------------------------------------------------
def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif value is not None:
        yield str(value)


def test_write_exports_and_manifest_without_ids(engine: Engine, tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    winback = build_audience(
        engine, WINBACK, members=HAND_MEMBERS, as_of_date=AS_OF, suppression=HAND_SUPPRESSION
    )
    sms = build_audience(
        engine,
        Campaign(
            name="vip-sms",
            segments=("At risk", "Champions"),
            channel="sms",
            trigger="in_segment",
            control_share=0.5,
        ),
        members=HAND_MEMBERS,
        as_of_date=AS_OF,
        seed=1,
    )
    seed = lookalike_seed(engine, members=HAND_MEMBERS, label="Champions")
    funnel = write_exports(run, [winback, sms], lookalike=seed)
    assert funnel["campaign"].tolist() == ["winback-email"] * 7 + ["vip-sms"] * 7
    exported = pd.read_csv(run.exports_dir / "winback-email.csv", dtype="str")
    pd.testing.assert_frame_equal(exported, winback.export, check_dtype=False)
    assert (run.exports_dir / "lookalike_seed.csv").read_text().splitlines() == [
        "customer_id,segment,reason",
        "ID-B,Champions,in segment Champions (look-alike seed)",
    ]
    manifest = json.loads((run.exports_dir / "manifest.json").read_text())
    entry = manifest["campaigns"][0]
    assert entry["funnel"] == funnel_counts(winback)
    assert (entry["channel"], entry["trigger"], entry["control_share_requested"]) == (
        "email",
        "in_segment",
        0.0,
    )
    assert entry["control_share_realised"] == 0.0 and entry["rows"] == 4
    assert manifest["campaigns"][1]["control_share_realised"] == pytest.approx(
        sms.realised_control_share
    )
    assert manifest["lookalike"]["rows"] == 1
    ids = set(HAND_MEMBERS["customer_id"]) | set(HAND_CUSTOMERS["customer_id"]) | {"ID-Z"}
    leaked = [s for s in _strings(manifest) for i in ids if i in s]
    assert not leaked
    assert all(i not in describe_activation(funnel) for i in ids)
    # a rerun without vip-sms removes its stale export, keeps the others
    write_exports(run, [winback])
    assert sorted(p.name for p in run.exports_dir.iterdir()) == [
        "manifest.json",
        "winback-email.csv",
    ]


def test_two_stages_keep_their_own_manifests(engine: Engine, tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    winback = build_audience(engine, WINBACK, members=HAND_MEMBERS, as_of_date=AS_OF)
    save = build_audience(
        engine,
        Campaign(
            name="churn-save",
            segments=("At risk",),
            channel="email",
            trigger="in_segment",
            recent_purchase_days=None,
        ),
        members=HAND_MEMBERS,
        as_of_date=AS_OF,
    )
    write_exports(run, [winback])  # 04_segments
    write_exports(run, [save], manifest_name="churn_manifest")  # 06_churn, same folder
    write_exports(run, [save], manifest_name="churn_manifest")  # a rerun of 06 alone
    assert sorted(p.name for p in run.exports_dir.iterdir()) == [
        "churn-save.csv",
        "churn_manifest.json",
        "manifest.json",
        "winback-email.csv",
    ]
    churn = json.loads((run.exports_dir / "churn_manifest.json").read_text())
    assert [entry["campaign"] for entry in churn["campaigns"]] == ["churn-save"]
    write_exports(run, [], manifest_name="churn_manifest")  # 06 with nobody to contact
    assert not (run.exports_dir / "churn-save.csv").exists()
    assert (run.exports_dir / "winback-email.csv").is_file()
    with pytest.raises(ValueError, match="manifest_name 'churn-save'"):
        write_exports(run, [save], manifest_name="churn-save")


def test_write_exports_rejects_clashing_names(engine: Engine, tmp_path: Path) -> None:
    audience = build_audience(engine, WINBACK, members=HAND_MEMBERS, as_of_date=AS_OF)
    run = RunFolder(tmp_path)
    with pytest.raises(ValueError, match="'winback-email': two audiences"):
        write_exports(run, [audience, audience])
    seed = lookalike_seed(engine, members=HAND_MEMBERS, label="Champions")
    with pytest.raises(ValueError, match="clashes with lookalike_name"):
        write_exports(run, [audience], lookalike=seed, lookalike_name="winback-email")
    with pytest.raises(ValueError, match="lookalike_name 'manifest'"):
        write_exports(run, [audience], lookalike=seed, lookalike_name="manifest")
    empty = write_exports(run, [])
    assert empty.empty and list(empty.columns) == list(FUNNEL_COLUMNS)
