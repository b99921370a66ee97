"""Tests of activation campaigns: settings, known labels and the suppression list file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crmlib.activation.campaigns import Campaign, check_campaigns, load_suppression_list
from crmlib.errors import SourceFileError

# -- campaigns ------------------------------------------------------------------------------------
KNOWN = {"segment": ["Champions", "At risk", "Hibernating"], "risk_band": ["high", "low"]}


def test_check_campaigns_accepts_mappings_and_campaigns() -> None:
    checked = check_campaigns(
        [
            {"name": "winback-email", "segments": ["At risk"], "channel": "email"},
            Campaign("save-high", ("high",), "sms", label_column="risk_band"),
        ],
        known_labels=KNOWN,
    )
    assert [c.name for c in checked] == ["winback-email", "save-high"]
    assert checked[0] == Campaign("winback-email", ("At risk",), "email")


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
            r"campaign 'by-cluster': label_column 'cluster_name' has no known labels",
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
    ],
    ids=["unknown-label", "duplicate-name", "unknown-label-column", "unknown-risk-band"],
)
def test_check_campaigns_errors(campaigns: list[dict[str, Any]], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check_campaigns(campaigns, known_labels=KNOWN)


@pytest.mark.parametrize(
    ("mapping", "match"),
    [
        ({"name": "x", "segments": ["A"], "channel": "fax"}, r"campaign 'x': channel 'fax'"),
        ({"name": "win back", "segments": ["A"], "channel": "sms"}, r"campaign 'win back': name"),
        ({"name": "../etc", "segments": ["A"], "channel": "sms"}, r"campaign '../etc': name"),
        ({"name": "x", "segments": [], "channel": "sms"}, r"campaign 'x': segments is empty"),
        ({"name": "x", "segments": ["A", "A"], "channel": "sms"}, r"campaign 'x': segments .*twice"),
        ({"name": "x", "segments": ["A"], "channel": "sms", "trigger": "new"}, r"'x': trigger"),
        ({"name": "x", "segments": ["A"], "channel": "sms", "control_share": 1.0}, "control_share"),
        ({"name": "x", "segments": ["A"], "channel": "sms", "control_share": "0.1"}, "control_share"),
        ({"name": "x", "segments": ["A"], "channel": "sms", "recent_purchase_days": 0}, "recent_purchase_days"),
        ({"name": "x", "segments": ["A"], "channel": "sms", "frequency_cap_days": 2.5}, "frequency_cap_days"),
        ({"name": "x", "segments": ["A"], "channel": "sms", "frequency_cap_max": True}, "frequency_cap_max"),
        ({"name": "x", "segments": ["A"], "channel": "sms", "segment": "A"}, r"'x': unknown key 'segment'"),
        ({"name": "x", "segments": ["A"]}, r"campaign 'x': key 'channel' is missing"),
    ],
    ids=[
        "channel", "slug-space", "slug-path", "no-segments", "repeated-segment", "trigger",
        "share-1", "share-text", "purchase-days-0", "cap-days-float", "cap-max-bool",
        "unknown-key", "missing-key",
    ],
)  # fmt: skip
def test_campaign_errors_name_the_campaign_and_key(mapping: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Campaign.from_mapping(mapping)


def test_campaign_single_segment_string() -> None:
    campaign = Campaign.from_mapping({"name": "one", "segments": "At risk", "channel": "email"})
    assert campaign.segments == ("At risk",)
    assert campaign.description == "At risk"


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
