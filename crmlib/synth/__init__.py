"""Generate a synthetic CRM (customers, orders, messaging events, an experiment) with planted truth."""

from __future__ import annotations

from crmlib.synth._cli import main
from crmlib.synth._constants import CHANNEL_PARAMS, DIRTY_REASONS, TX_COLUMNS, VERSION
from crmlib.synth._crm import SyntheticCRM
from crmlib.synth._generate import generate
from crmlib.synth._writer import write

__all__ = [
    "CHANNEL_PARAMS",
    "DIRTY_REASONS",
    "TX_COLUMNS",
    "VERSION",
    "SyntheticCRM",
    "generate",
    "main",
    "write",
]
