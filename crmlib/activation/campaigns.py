"""Activation campaigns: their settings and target labels, checked; the suppression list.

A campaign's settings are validated in one place, :class:`crmlib.config.CampaignParams` (the
model of ``segments.campaigns`` in the params file); :class:`Campaign` is that model.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pandas as pd

from crmlib.config import CampaignParams
from crmlib.errors import SourceFileError

__all__ = [
    "CHANNELS",
    "TRIGGERS",
    "Campaign",
    "check_campaigns",
    "load_suppression_list",
]

log = logging.getLogger(__name__)

#: One activation campaign: the params file's model, built from keywords
#: (``Campaign(name="winback-email", segments=("At risk",), channel="email")``).
Campaign = CampaignParams

#: A campaign or export file name: a slug of 1 to 64 characters (the model's own pattern).
_SLUG = Campaign.NAME_PATTERN
#: Messaging channels a campaign can use (the ``events.channel`` values).
CHANNELS: tuple[str, ...] = get_args(Campaign.model_fields["channel"].annotation)
#: Campaign triggers: currently in a target label, or entered one since the previous membership.
TRIGGERS: tuple[str, ...] = get_args(Campaign.model_fields["trigger"].annotation)


# -- campaigns -------------------------------------------------------------------------------
def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _as_campaign(item: Campaign | Mapping[str, Any], position: int) -> Campaign:
    """``item`` as a :class:`Campaign`; a mapping goes through the model's validation.

    A bad mapping is a ValueError naming the campaign (its name, or its position when it has
    none) and each bad key, with what was expected.
    """
    if isinstance(item, Campaign):
        return item
    name = item.get("name") if isinstance(item, Mapping) else None
    label = f"campaign {name!r}" if isinstance(name, str) else f"campaign #{position}"
    if not isinstance(item, Mapping):
        raise ValueError(f"{label}: expected a mapping of campaign settings, got {item!r}")
    return Campaign.validated(dict(item), label=label)


def check_campaigns(
    campaigns: Iterable[Campaign | Mapping[str, Any]],
    *,
    known_labels: Mapping[str, Collection[str]],
) -> tuple[Campaign, ...]:
    """Campaigns checked against the labels that exist, in the given order.

    Parameters
    ----------
    campaigns : iterable of Campaign or mapping
        A mapping (keys: the fields of :class:`Campaign`) is validated by the model; a bad
        one is a ValueError naming the campaign and the key.
    known_labels : mapping of str to collection of str
        Per label column (``"segment"``, ``"cluster_name"``, ...), every label it can take
        (for segments: the names in the rule table).

    Returns
    -------
    tuple of Campaign

    Raises
    ------
    ValueError
        A mapping is not valid settings; two campaigns share a name; a campaign's
        ``label_column`` has no known labels (the message lists the known columns); a target
        label is unknown (the message names the campaign and the label and lists the known
        ones).

    Examples
    --------
    >>> check_campaigns([{"name": "a", "segments": ["Champs"], "channel": "email"}],
    ...                 known_labels={"segment": ["Champions", "At risk"]})
    Traceback (most recent call last):
    ...
    ValueError: campaign 'a': segment 'Champs' is not a known segment; known: ['At risk', 'Champions']
    >>> check_campaigns([{"name": "a", "segments": ["Champions"], "channel": "fax"}],
    ...                 known_labels={"segment": ["Champions", "At risk"]})
    Traceback (most recent call last):
    ...
    ValueError: campaign 'a': key 'channel': Input should be 'email', 'sms' or 'push' (got 'fax')
    """
    checked: list[Campaign] = []
    for position, item in enumerate(campaigns, start=1):
        campaign = _as_campaign(item, position)
        if any(other.name == campaign.name for other in checked):
            raise ValueError(
                f"campaign {campaign.name!r}: two campaigns have this name; names must be unique "
                "(each one names an export file)"
            )
        column = campaign.label_column
        if column not in known_labels:
            raise ValueError(
                f"campaign {campaign.name!r}: label_column {column!r} has no known labels; "
                f"known columns: {sorted(known_labels)}"
            )
        known = {str(label) for label in known_labels[column]}
        what = column.replace("_", " ")
        for label in campaign.segments:
            if label not in known:
                raise ValueError(
                    f"campaign {campaign.name!r}: {what} {label!r} is not a known {what}; "
                    f"known: {sorted(known)}"
                )
        checked.append(campaign)
    return tuple(checked)


# -- suppression list ------------------------------------------------------------------------
def load_suppression_list(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a global suppression list: a CSV file with a ``customer_id`` column.

    Ids are read as text (``007`` stays ``007``) and trimmed; blank ids are dropped, repeated ids
    kept once. The counts (never the ids) are logged and kept in ``frame.attrs``: ``rows_read``,
    ``blank_ids``, ``duplicate_ids``, ``source``.

    Parameters
    ----------
    path : path-like
        The CSV file (UTF-8, a byte-order mark is accepted; other columns are ignored).

    Returns
    -------
    pd.DataFrame
        One row per suppressed customer: *customer_id*, in file order.

    Raises
    ------
    SourceFileError
        The file is missing, empty, unreadable as UTF-8 CSV, or has no ``customer_id`` column.
    """
    source = Path(path)
    if not source.is_file():
        raise SourceFileError(f"suppression list {source}: file not found")
    try:
        raw = pd.read_csv(
            source, dtype="str", keep_default_na=False, encoding="utf-8-sig", usecols=None
        )
    except pd.errors.EmptyDataError as exc:
        raise SourceFileError(
            f"suppression list {source}: the file is empty; expected a header with customer_id"
        ) from exc
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise SourceFileError(
            f"suppression list {source}: not a readable UTF-8 CSV file ({type(exc).__name__})"
        ) from exc
    raw.columns = [str(c).strip() for c in raw.columns]
    if "customer_id" not in raw.columns:
        raise SourceFileError(
            f"suppression list {source}: column 'customer_id' is missing; found "
            f"{sorted(raw.columns)}"
        )
    ids = raw["customer_id"].astype("str").str.strip()
    blank = ids == ""
    kept = ids[~blank]
    duplicated = kept.duplicated()
    frame = pd.DataFrame({"customer_id": kept[~duplicated].to_numpy()}).astype("str")
    frame.attrs.update(
        {
            "source": source.name,
            "rows_read": len(ids),
            "blank_ids": int(blank.sum()),
            "duplicate_ids": int(duplicated.sum()),
        }
    )
    log.info(
        "suppression list %s: %d rows, %d blank ids dropped, %d repeated ids kept once: "
        "%d customers",
        source.name,
        len(ids),
        int(blank.sum()),
        int(duplicated.sum()),
        len(frame),
    )
    return frame
