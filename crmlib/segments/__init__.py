"""Segments: RFM scores and named segments, who they are, behavioural clusters, migration,
category and product affinities, and the consent-safe activation lists of 04_segments.

Transaction-level work is SQL on the engine (``crmlib/sql/segments_*.sql``); scoring, k-means
(scikit-learn) and the reports run on the per-customer results. The activation rules live in
:mod:`crmlib.activation`, shared with 06_churn.
"""

from __future__ import annotations

from crmlib.segments.models.affinities import cross_sell_by_segment, top_pairs
from crmlib.segments.models.clusters import cluster_labels
from crmlib.segments.models.migration import migration_matrix, migration_summary
from crmlib.segments.models.profiles import UNKNOWN_VALUE, age_bands
from crmlib.segments.models.rfm import rfm_grid, segment_summary
from crmlib.segments.models.rules import segment_names
from crmlib.segments.plots import (
    plot_affinity_heatmap,
    plot_cluster_profiles,
    plot_migration_heatmap,
    plot_rfm_heatmap,
    plot_segment_sizes,
)
from crmlib.segments.queries.affinities import association_rules
from crmlib.segments.queries.clusters import behaviour_features
from crmlib.segments.queries.migration import segment_migration
from crmlib.segments.queries.rfm import rfm_table
from crmlib.segments.stage import (
    baseline_membership,
    clusters_or_reason,
    membership,
    product_pairs,
    run_campaigns,
    segment_checks,
    segment_rules,
    segments_conclusion,
    segments_metrics,
    who_they_are,
)
from crmlib.segments.tables import affinity_table, funnel_table
from crmlib.segments.text import (
    describe_affinities,
    describe_clusters,
    describe_cross_sell,
    describe_inputs,
    describe_migration,
    describe_segments,
)

__all__ = [
    "rfm_table",
    "segment_migration",
    "behaviour_features",
    "association_rules",
    "segment_names",
    "segment_summary",
    "rfm_grid",
    "migration_summary",
    "migration_matrix",
    "UNKNOWN_VALUE",
    "age_bands",
    "cluster_labels",
    "top_pairs",
    "cross_sell_by_segment",
    "describe_inputs",
    "describe_segments",
    "describe_migration",
    "describe_clusters",
    "describe_affinities",
    "describe_cross_sell",
    "affinity_table",
    "funnel_table",
    "plot_segment_sizes",
    "plot_rfm_heatmap",
    "plot_migration_heatmap",
    "plot_cluster_profiles",
    "plot_affinity_heatmap",
    "segment_rules",
    "clusters_or_reason",
    "membership",
    "baseline_membership",
    "run_campaigns",
    "who_they_are",
    "product_pairs",
    "segment_checks",
    "segments_conclusion",
    "segments_metrics",
]
