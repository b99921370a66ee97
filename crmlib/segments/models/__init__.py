"""Statistics and computations on frames of 04_segments, one module per job.

No SQL, no sentences, no charts: segment rules (:mod:`.rules`), RFM scores and segment
tables (:mod:`.rfm`), migration counts (:mod:`.migration`), segment profiles
(:mod:`.profiles`), behavioural clusters (:mod:`.clusters`) and affinities
(:mod:`.affinities`). The SQL that feeds them is in :mod:`crmlib.segments.queries`.
"""
