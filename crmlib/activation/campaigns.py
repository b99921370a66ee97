"""Activation campaigns: their settings and target labels, checked; the suppression list."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmlib.errors import SourceFileError

__all__ = [
    "CHANNELS",
    "TRIGGERS",
    "Campaign",
    "check_campaigns",
    "load_suppression_list",
]

log = logging.getLogger(__name__)

#: Messaging channels a campaign can use (the ``events.channel`` values).
CHANNELS: tuple[str, ...] = ("email", "sms", "push")
#: Campaign triggers: currently in a target label, or entered one since the previous membership.
TRIGGERS: tuple[str, ...] = ("in_segment", "entered")

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_FIELDS = (
    "name", "segments", "channel", "trigger", "control_share", "recent_purchase_days",
    "frequency_cap_days", "frequency_cap_max", "label_column",
)  # fmt: skip
_REQUIRED = ("name", "segments", "channel")


# -- campaigns -------------------------------------------------------------------------------
def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


@dataclass(frozen=True)
class Campaign:
    """One activation campaign: who to target, on which channel, with which suppression rules.

    Parameters
    ----------
    name : str
        A slug (letters, digits, ``-``, ``_``; up to 64 characters, starting with a letter or a
        digit): it names ``exports/<name>.csv``.
    segments : tuple of str
        Target labels (values of ``label_column`` in the members frame); at least one. A single
        string is taken as one label.
    channel : {"email", "sms", "push"}
        Consent, unsubscribes and the frequency cap are checked on this channel.
    trigger : {"in_segment", "entered"}, default "in_segment"
        ``in_segment``: every member in a target label. ``entered``: only members who were not
        in a target label in the previous membership (see :func:`build_audience`).
    control_share : float, default 0.1
        Share of the eligible audience held out as a control group, 0 <= share < 1.
    recent_purchase_days : int or None, default 7
        Suppress customers with a purchase in the last N days up to ``as_of`` (N >= 1); None
        turns the rule off.
    frequency_cap_days : int or None, default 7
        Window of the frequency cap in days (>= 1); None turns the cap off.
    frequency_cap_max : int, default 1
        Suppress customers with at least this many ``sent`` events on ``channel`` in the last
        ``frequency_cap_days`` days (>= 1).
    label_column : str, default "segment"
        The members column the targets refer to, e.g. ``"cluster_name"`` or ``"risk_band"``.

    Examples
    --------
    >>> Campaign("winback-email", ("At risk",), "email", trigger="entered").control_share
    0.1
    >>> Campaign("win back", ("At risk",), "email")
    Traceback (most recent call last):
    ...
    ValueError: campaign 'win back': name 'win back' is not a slug (letters, digits, '-' and '_', up to 64 characters, starting with a letter or a digit): it becomes the export's file name
    """

    name: str
    segments: tuple[str, ...]
    channel: str
    trigger: str = "in_segment"
    control_share: float = 0.1
    recent_purchase_days: int | None = 7
    frequency_cap_days: int | None = 7
    frequency_cap_max: int = 1
    label_column: str = "segment"

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not _SLUG.match(name):
            raise ValueError(
                f"campaign {name!r}: name {name!r} is not a slug (letters, digits, '-' and '_', "
                "up to 64 characters, starting with a letter or a digit): it becomes the "
                "export's file name"
            )
        segments: Any = self.segments
        if isinstance(segments, str):
            segments = (segments,)
        if not isinstance(segments, Iterable):
            raise ValueError(f"campaign {name!r}: segments {segments!r} is not a list of labels")
        segments = tuple(segments)
        if not segments:
            raise ValueError(f"campaign {name!r}: segments is empty; expected at least one label")
        for label in segments:
            if not isinstance(label, str) or not label.strip():
                raise ValueError(
                    f"campaign {name!r}: segments has {label!r}; expected non-empty strings"
                )
        if len(set(segments)) < len(segments):
            raise ValueError(f"campaign {name!r}: segments {list(segments)} lists a label twice")
        object.__setattr__(self, "segments", segments)
        if self.channel not in CHANNELS:
            raise ValueError(
                f"campaign {name!r}: channel {self.channel!r} is not one of {list(CHANNELS)}"
            )
        if self.trigger not in TRIGGERS:
            raise ValueError(
                f"campaign {name!r}: trigger {self.trigger!r} is not one of {list(TRIGGERS)}"
            )
        share = self.control_share
        if (
            isinstance(share, (bool, np.bool_))
            or not isinstance(share, (int, float, np.integer, np.floating))
            or not 0 <= float(share) < 1
        ):
            raise ValueError(
                f"campaign {name!r}: control_share {share!r} is not a number with "
                "0 <= control_share < 1"
            )
        object.__setattr__(self, "control_share", float(share))
        for key in ("recent_purchase_days", "frequency_cap_days"):
            days = getattr(self, key)
            if days is not None and (not _is_int(days) or days < 1):
                raise ValueError(
                    f"campaign {name!r}: {key} {days!r} is not a whole number of days >= 1 "
                    "(or null to turn the rule off)"
                )
        if not _is_int(self.frequency_cap_max) or self.frequency_cap_max < 1:
            raise ValueError(
                f"campaign {name!r}: frequency_cap_max {self.frequency_cap_max!r} is not a "
                "whole number >= 1"
            )
        if not isinstance(self.label_column, str) or not self.label_column:
            raise ValueError(
                f"campaign {name!r}: label_column {self.label_column!r} is not a column name"
            )

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> Campaign:
        """A campaign from a params mapping (``segments.campaigns[i]`` of the params file).

        Keys are the field names; ``name``, ``segments`` and ``channel`` are required. An
        unknown or missing key, or a bad value, is a ValueError naming the campaign and the key.

        Examples
        --------
        >>> Campaign.from_mapping({"name": "vip-sms", "segments": ["Champions"], "channel": "sms",
        ...                        "control_share": 0.2}).segments
        ('Champions',)
        >>> Campaign.from_mapping({"name": "vip-sms", "segment": "Champions", "channel": "sms"})
        Traceback (most recent call last):
        ...
        ValueError: campaign 'vip-sms': unknown key 'segment'; expected keys: name, segments, channel, trigger, control_share, recent_purchase_days, frequency_cap_days, frequency_cap_max, label_column
        """
        if not isinstance(mapping, Mapping):
            raise ValueError(f"campaign {mapping!r}: expected a mapping of campaign settings")
        name = mapping.get("name", "(unnamed)")
        for key in mapping:
            if key not in _FIELDS:
                raise ValueError(
                    f"campaign {name!r}: unknown key {key!r}; expected keys: {', '.join(_FIELDS)}"
                )
        for key in _REQUIRED:
            if key not in mapping:
                raise ValueError(f"campaign {name!r}: key {key!r} is missing")
        return cls(**dict(mapping))

    @property
    def description(self) -> str:
        """The targets in words, e.g. ``"At risk or Hibernating"``."""
        return " or ".join(self.segments)


def check_campaigns(
    campaigns: Iterable[Campaign | Mapping[str, Any]],
    *,
    known_labels: Mapping[str, Collection[str]],
) -> tuple[Campaign, ...]:
    """Campaigns checked against the labels that exist, in the given order.

    Parameters
    ----------
    campaigns : iterable of Campaign or mapping
        Mappings are read with :meth:`Campaign.from_mapping`.
    known_labels : mapping of str to collection of str
        Per label column (``"segment"``, ``"cluster_name"``, ...), every label it can take
        (for segments: the names in the rule table).

    Returns
    -------
    tuple of Campaign

    Raises
    ------
    ValueError
        Two campaigns share a name; a campaign's ``label_column`` has no known labels; a target
        label is unknown (the message names the campaign and the label and lists the known ones).

    Examples
    --------
    >>> check_campaigns([{"name": "a", "segments": ["Champs"], "channel": "email"}],
    ...                 known_labels={"segment": ["Champions", "At risk"]})
    Traceback (most recent call last):
    ...
    ValueError: campaign 'a': segment 'Champs' is not a known segment; known: ['At risk', 'Champions']
    """
    checked: list[Campaign] = []
    for item in campaigns:
        campaign = item if isinstance(item, Campaign) else Campaign.from_mapping(item)
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
