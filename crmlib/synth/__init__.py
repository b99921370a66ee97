"""Generate a synthetic CRM (customers, orders, messaging events, an experiment) with planted truth."""

from __future__ import annotations

from crmlib.synth._cli import PROFILES, main
from crmlib.synth._constants import CHANNEL_PARAMS, DIRTY_REASONS, TX_COLUMNS, VERSION
from crmlib.synth._crm import SyntheticCRM
from crmlib.synth._generate import generate
from crmlib.synth._retail import RetailLog, generate_retail_log
from crmlib.synth._retail_catalog import RETAIL_COLUMNS, RETAIL_VERSION
from crmlib.synth._retail_writer import write_retail_log
from crmlib.synth._writer import write

__all__ = [
    "CHANNEL_PARAMS",
    "DIRTY_REASONS",
    "PROFILES",
    "RETAIL_COLUMNS",
    "RETAIL_VERSION",
    "TX_COLUMNS",
    "VERSION",
    "RetailLog",
    "SyntheticCRM",
    "generate",
    "generate_retail_log",
    "main",
    "write",
    "write_retail_log",
]
