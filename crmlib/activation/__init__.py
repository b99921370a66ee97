"""Activation lists: campaign audiences that always honour consent, unsubscribes and suppression.

A campaign (:class:`Campaign`, the params model :class:`crmlib.config.CampaignParams`) targets
labels of a one-row-per-customer *members* frame (segments, clusters, churn risk bands).
:func:`build_audience` keeps the members who pass, in order, the trigger, consent on the
campaign's channel and every suppression rule, then holds out a seeded control group;
:func:`write_exports` writes ``exports/<campaign>.csv`` and a manifest of counts. Every rule
fails closed: without consent information nobody is exportable.
"""

from crmlib.activation.audience import FUNNEL_STEPS, Audience, build_audience, lookalike_seed
from crmlib.activation.campaigns import Campaign, check_campaigns, load_suppression_list
from crmlib.activation.exports import write_exports
from crmlib.activation.text import describe_activation

__all__ = [
    "FUNNEL_STEPS",
    "Campaign",
    "Audience",
    "check_campaigns",
    "load_suppression_list",
    "build_audience",
    "lookalike_seed",
    "write_exports",
    "describe_activation",
]
