"""Tests of activation campaigns: settings, known labels and the suppression list file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from crmlib.activation.campaigns import (
    CHANNELS,
    TRIGGERS,
    Campaign,
    check_campaigns,
    load_suppression_list,
)
from crmlib.config import CampaignParams, load_params
from crmlib.errors import ConfigError, SourceFileError

DEFAULT_PARAMS = Path(__file__).resolve().parents[1] / "params" / "default.yaml"

# -- campaigns ------------------------------------------------------------------------------------
KNOWN = {"segment": ["Champions", "At risk", "Hibernating"], "risk_band": ["high", "low"]}


def test_check_campaigns_accepts_mappings_and_campaigns() -> None:
    checked = check_campaigns(
        [
            {"name": "winback-email", "segments": ["At risk"], "channel": "email"},
            Campaign(name="save-high", segments=("high",), channel="sms", label_column="risk_band"),
        ],
        known_labels=KNOWN,
    )
    assert [c.name for c in checked] == ["winback-email", "save-high"]
    assert all(isinstance(c, Campaign) for c in checked)
    assert checked[0] == Campaign(name="winback-email", segments=("At risk",), channel="email")


@pytest.mark.parametrize(
    ("campaigns", "match"),
    [
        (
            [{"name": "winback-email", "segments": ["At Risk"], "channel": "email"}],
            r"campaign 'winback-email': segment 'At Risk' is not a known segment; "
            r"known: \['At risk', 'Champions', 'Hibernating'\]",
        ),
        (
            [
                {"name": "twice", "segments": ["At risk"], "channel": "email"},
                {"name": "twice", "segments": ["Champions"], "channel": "sms"},
            ],
            "campaign 'twice': two campaigns have this name",
        ),
        (
            [
                {
                    "name": "by-cluster",
                    "segments": ["c1"],
                    "channel": "sms",
                    "label_column": "cluster_name",
                }
            ],
            r"campaign 'by-cluster': label_column 'cluster_name' has no known labels; "
            r"known columns: \['risk_band', 'segment'\]",
        ),
        (
            [
                {
                    "name": "band",
                    "segments": ["medium"],
                    "channel": "sms",
                    "label_column": "risk_band",
                }
            ],
            r"campaign 'band': risk band 'medium' is not a known risk band",
        ),
        (
            [{"name": "ok", "segments": ["At risk"], "channel": "sms"}, {"segments": ["At risk"]}],
            r"campaign #2: missing required key 'name'",
        ),
        ([["not", "a", "mapping"]], r"campaign #1: expected a mapping of campaign settings"),
    ],
    ids=[
        "unknown-label", "duplicate-name", "unknown-label-column", "unknown-risk-band",
        "no-name", "not-a-mapping",
    ],
)  # fmt: skip
def test_check_campaigns_errors(campaigns: list[dict[str, Any]], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check_campaigns(campaigns, known_labels=KNOWN)


BAD_CAMPAIGNS = [
    ({"name": "x", "segments": ["A"], "channel": "fax"}, "channel", r"'email', 'sms' or 'push'"),
    ({"name": "win back", "segments": ["A"], "channel": "sms"}, "name", "not a slug"),
    ({"name": "../etc", "segments": ["A"], "channel": "sms"}, "name", "not a slug"),
    ({"name": "a" * 65, "segments": ["A"], "channel": "sms"}, "name", "up to 64 characters"),
    ({"name": "x", "segments": [], "channel": "sms"}, "segments", "at least 1 item"),
    ({"name": "x", "segments": ["A", "A"], "channel": "sms"}, "segments", "listed twice"),
    ({"name": "x", "segments": ["A", " "], "channel": "sms"}, "segments", "blank"),
    ({"name": "x", "segments": ["A"], "channel": "sms", "trigger": "new"}, "trigger", "'in_segment' or 'entered'"),
    ({"name": "x", "segments": ["A"], "channel": "sms", "control_share": 1.0}, "control_share", "less than 1"),
    ({"name": "x", "segments": ["A"], "channel": "sms", "control_share": -0.1}, "control_share", "greater than or equal to 0"),
    ({"name": "x", "segments": ["A"], "channel": "sms", "control_share": "0.1"}, "control_share", "valid number"),
    ({"name": "x", "segments": ["A"], "channel": "sms", "recent_purchase_days": 0}, "recent_purchase_days", "greater than or equal to 1"),
    ({"name": "x", "segments": ["A"], "channel": "sms", "frequency_cap_days": 2.5}, "frequency_cap_days", "valid integer"),
    ({"name": "x", "segments": ["A"], "channel": "sms", "frequency_cap_days": 0}, "frequency_cap_days", "greater than or equal to 1"),
    ({"name": "x", "segments": ["A"], "channel": "sms", "frequency_cap_max": True}, "frequency_cap_max", "not a whole number"),
    ({"name": "x", "segments": ["A"], "channel": "sms", "frequency_cap_max": None}, "frequency_cap_max", "valid integer"),
    ({"name": "x", "segments": ["A"], "channel": "sms", "label_column": ""}, "label_column", "at least 1 character"),
]  # fmt: skip
BAD_IDS = [
    "channel", "slug-space", "slug-path", "slug-65", "no-segments", "repeated-segment",
    "blank-segment", "trigger", "share-1", "share-negative", "share-text", "purchase-days-0",
    "cap-days-float", "cap-days-0", "cap-max-bool", "cap-max-null", "blank-label-column",
]  # fmt: skip


@pytest.mark.parametrize(("mapping", "key", "expected"), BAD_CAMPAIGNS, ids=BAD_IDS)
def test_campaign_errors_name_the_campaign_and_key(
    mapping: dict[str, Any], key: str, expected: str
) -> None:
    name = mapping["name"]
    with pytest.raises(ValueError, match=rf"campaign '{name}': key '{key}': .*{expected}"):
        check_campaigns([mapping], known_labels={"segment": ["A"]})


@pytest.mark.parametrize(("mapping", "key", "expected"), BAD_CAMPAIGNS, ids=BAD_IDS)
def test_campaign_built_in_code_fails_the_same(
    mapping: dict[str, Any], key: str, expected: str
) -> None:
    with pytest.raises(ValidationError, match=rf"(?s)^1 validation error .*\n{key}\b.*{expected}"):
        Campaign(**mapping)


def test_unknown_and_missing_keys_name_the_campaign() -> None:
    with pytest.raises(ValueError, match=r"campaign 'x': unknown key 'segment'"):
        check_campaigns(
            [{"name": "x", "segments": ["A"], "channel": "sms", "segment": "A"}],
            known_labels={"segment": ["A"]},
        )
    with pytest.raises(ValueError, match=r"campaign 'x': missing required key 'channel'"):
        check_campaigns([{"name": "x", "segments": ["A"]}], known_labels={"segment": ["A"]})
    with pytest.raises(ValidationError, match="segment\n  Extra inputs are not permitted"):
        Campaign(name="x", segments=("A",), channel="sms", segment="A")  # type: ignore[call-arg]


def test_campaign_single_segment_string_and_settings() -> None:
    campaign = Campaign.model_validate({"name": "one", "segments": "At risk", "channel": "email"})
    assert campaign.segments == ("At risk",)
    assert campaign.description == "At risk"
    assert Campaign(name="two", segments=["A", "B"], channel="push").description == "A or B"
    off = Campaign(
        name="off",
        segments=("A",),
        channel="sms",
        recent_purchase_days=None,
        frequency_cap_days=None,
        frequency_cap_max=np.int64(3),  # type: ignore[arg-type]
        control_share=0,
        label_column="action",
    )
    assert (off.recent_purchase_days, off.frequency_cap_days, off.frequency_cap_max) == (
        None,
        None,
        3,
    )
    assert off.control_share == 0.0 and off.label_column == "action"
    assert (CHANNELS, TRIGGERS) == (("email", "sms", "push"), ("in_segment", "entered"))


def test_campaigns_are_frozen_and_hashable() -> None:
    campaign = Campaign(name="vip-sms", segments=("Champions",), channel="sms")
    with pytest.raises(ValidationError, match="frozen"):
        campaign.control_share = 0.5  # type: ignore[misc]
    assert len({campaign, Campaign(name="vip-sms", segments=("Champions",), channel="sms")}) == 1


def _params_file(tmp_path: Path, campaign: dict[str, Any]) -> Path:
    payload = yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))
    payload["source"] = {"transactions": {"path": "transactions.csv"}}
    payload["segments"].pop("suppression_list", None)
    payload["segments"]["campaigns"] = [campaign]
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(payload, sort_keys=False), encoding="utf-8")
    return path


def test_params_file_and_code_share_one_campaign_validator(tmp_path: Path) -> None:
    """A campaign of the params file is a Campaign: same checks, same defaults."""
    assert Campaign is CampaignParams
    long_name = {"name": "a" * 65, "segments": ["At risk"], "channel": "email"}
    with pytest.raises(ConfigError, match=r"key 'segments\.campaigns\.0\.name': .*not a slug"):
        load_params(_params_file(tmp_path, long_name))
    with pytest.raises(ValidationError, match="not a slug"):
        Campaign(name="a" * 65, segments=("At risk",), channel="email")
    with pytest.raises(ValueError, match=r"campaign 'a{65}': key 'name': .*not a slug"):
        check_campaigns([long_name], known_labels={"segment": ["At risk"]})

    minimal = {"name": "winback", "segments": ["At risk"], "channel": "email"}
    from_file = load_params(_params_file(tmp_path, minimal)).segments.campaigns[0]
    in_code = Campaign(name="winback", segments=("At risk",), channel="email")
    assert isinstance(from_file, Campaign)
    assert from_file == in_code == check_campaigns([minimal], known_labels=KNOWN)[0]
    assert in_code.trigger == from_file.trigger == "entered"
    # null turns a rule off in the file as in code
    off = {**minimal, "recent_purchase_days": None, "frequency_cap_days": None}
    loaded = load_params(_params_file(tmp_path, off)).segments.campaigns[0]
    assert (loaded.recent_purchase_days, loaded.frequency_cap_days) == (None, None)


# -- suppression list file ------------------------------------------------------------------------
def test_load_suppression_list(tmp_path: Path) -> None:
    path = tmp_path / "suppress.csv"
    path.write_text(
        "\ufeffcustomer_id,why\n007,complaint\n  ID-H ,legal\n,blank\n007,again\nID-Z,x\n",
        encoding="utf-8",
    )
    frame = load_suppression_list(path)
    assert frame["customer_id"].tolist() == ["007", "ID-H", "ID-Z"]  # text, trimmed, deduplicated
    assert frame.attrs == {
        "source": "suppress.csv",
        "rows_read": 5,
        "blank_ids": 1,
        "duplicate_ids": 1,
    }


def test_suppression_list_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError, match=r"missing\.csv: file not found"):
        load_suppression_list(tmp_path / "missing.csv")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id\nID-H\n", encoding="utf-8")
    with pytest.raises(SourceFileError, match=r"wrong\.csv: column 'customer_id' is missing"):
        load_suppression_list(wrong)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(SourceFileError, match=r"empty\.csv: the file is empty"):
        load_suppression_list(empty)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("customer_id\nJos\xe9\n".encode("latin-1"))
    with pytest.raises(SourceFileError, match=r"latin\.csv: not a readable UTF-8 CSV"):
        load_suppression_list(latin)
