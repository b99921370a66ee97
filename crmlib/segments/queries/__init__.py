"""SQL on the engine for 04_segments, one module per job: each function runs
``crmlib/sql/segments_*.sql`` and returns a frame.

RFM features and the RFM table (:mod:`.rfm`), RFM at two dates for the migration
(:mod:`.migration`), behaviour features for the clusters (:mod:`.clusters`) and
co-bought item counts for the affinities (:mod:`.affinities`). The statistics on the
results are in :mod:`crmlib.segments.models`.
"""
