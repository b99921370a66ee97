"""Parameters of the synthetic CRM: acquisition channels, catalogue, messaging, planted effects."""

from __future__ import annotations

__all__ = [
    "AMOUNT_CAP",
    "CATEGORIES",
    "CATEGORY_P",
    "CHANNEL_PARAMS",
    "CLUSTER_CUSTOMERS",
    "CLUSTER_LOYALTY",
    "DAY_S",
    "DEAD_ENGAGEMENT",
    "DIRTY_REASONS",
    "EVENT_TYPES",
    "EXPERIMENT",
    "LOYALTY_TIERS",
    "MSG_CHANNELS",
    "MSG_PARAMS",
    "ORDER_CHANNELS",
    "ORDER_CHANNEL_P",
    "ORPHAN_REFUND_SHARE",
    "PLANTED_PAIRS",
    "PRODUCTS_PER_CATEGORY",
    "Q4_MULTIPLIER",
    "REFUND_SHARE",
    "REGIONS",
    "REGION_P",
    "SIGNUP_GROWTH",
    "SUPPRESSION_REASONS",
    "SUPPRESSION_REASON_P",
    "SUPPRESSION_SHARE",
    "SUPPRESSION_STREAM",
    "SUPPRESSION_UNKNOWN_IDS",
    "TX_COLUMNS",
    "VERSION",
]

# bump whenever the same seed gives different output (2: copies follow originals; 3: adds
# suppression.csv and truth_customers.csv, the four contract tables are unchanged)
VERSION = 3
DAY_S = 86_400

# Acquisition channels: share of signups, BG/NBD (r, alpha per day, a, b) and Gamma-Gamma
# spend (p, q, gamma). Listed from the best-retaining channel to the worst: a higher
# purchase rate r/alpha and a lower dropout probability a/(a+b) go together.
CHANNEL_PARAMS: dict[str, dict[str, float]] = {
    "email_referral": dict(
        share=0.10, r=0.80, alpha=16.0, a=0.80, b=28.0, spend_p=6.0, spend_q=4.0, spend_gamma=30.0
    ),
    "organic_search": dict(
        share=0.25, r=0.70, alpha=20.0, a=0.85, b=24.0, spend_p=6.0, spend_q=4.0, spend_gamma=27.0
    ),
    "paid_search": dict(
        share=0.22, r=0.60, alpha=22.0, a=0.90, b=20.0, spend_p=5.5, spend_q=4.0, spend_gamma=26.0
    ),
    "affiliate": dict(
        share=0.10, r=0.55, alpha=30.0, a=1.00, b=17.0, spend_p=5.0, spend_q=4.0, spend_gamma=27.0
    ),
    "social": dict(
        share=0.18, r=0.50, alpha=40.0, a=1.10, b=15.0, spend_p=5.0, spend_q=4.5, spend_gamma=26.0
    ),
    "marketplace": dict(
        share=0.15, r=0.45, alpha=55.0, a=1.20, b=12.0, spend_p=4.5, spend_q=4.5, spend_gamma=30.0
    ),
}
REGIONS = ["north", "south", "east", "west", "central", "overseas"]
REGION_P = [0.22, 0.20, 0.17, 0.18, 0.16, 0.07]
ORDER_CHANNELS = ["web", "app", "store"]
ORDER_CHANNEL_P = [0.50, 0.35, 0.15]
CATEGORIES = [
    "coffee", "mugs", "running_shoes", "sportswear", "skincare", "makeup",
    "books", "stationery", "electronics", "phone_accessories", "toys", "kids_clothing",
]  # fmt: skip
CATEGORY_P = [0.10, 0.07, 0.08, 0.10, 0.09, 0.08, 0.10, 0.07, 0.08, 0.07, 0.08, 0.08]
PLANTED_PAIRS = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11)]  # indices into CATEGORIES
PRODUCTS_PER_CATEGORY = 30
MSG_CHANNELS = ["email", "sms", "push"]
EVENT_TYPES = ["sent", "open", "click", "unsubscribe"]
LOYALTY_TIERS = ["none", "silver", "gold"]
DIRTY_REASONS = [
    "duplicate_row", "missing_customer_id", "bad_timestamp", "bad_amount",
    "future_timestamp", "conflicting_order", "amount_out_of_bounds", "unknown_customer",
]  # fmt: skip
TX_COLUMNS = [
    "order_id",
    "customer_id",
    "order_ts",
    "amount",
    "quantity",
    "product_id",
    "category",
    "channel",
]

Q4_MULTIPLIER = 1.6  # purchase-rate multiplier in October-December (time warping)
SIGNUP_GROWTH = 0.8  # signup density at `end` is (1 + growth) times the density at `start`
REFUND_SHARE = 0.03
ORPHAN_REFUND_SHARE = 0.001
AMOUNT_CAP = 5_000.0  # clean order amounts are capped here; out-of-bounds rows start at 250,000
CLUSTER_CUSTOMERS = 0.85  # share of customers with a preferred category pair
CLUSTER_LOYALTY = 0.80  # share of a clustered customer's orders inside its category pair
EXPERIMENT = dict(days_before_end=60, min_recency_days=60, max_recency_days=180, uplift=0.05,
                  window_days=30, cost_per_contact=1.50, pre_period_days=365)  # fmt: skip
# messaging: opt-in share, send day of month, audience share per campaign, open/click rates
MSG_PARAMS = {
    "email": dict(opt_in=0.60, day=5, audience=0.50, open=0.35, click=0.25, unsub=0.004),
    "sms": dict(opt_in=0.25, day=12, audience=0.40, open=0.20, click=0.20, unsub=0.006),
    "push": dict(opt_in=0.35, day=20, audience=0.50, open=0.15, click=0.30, unsub=0.003),
}
DEAD_ENGAGEMENT = 0.35  # open/click rates of customers who already dropped out, relative
# global do-not-contact list (suppression.csv), drawn last from its own random stream
# np.random.default_rng([seed, SUPPRESSION_STREAM]) so the other tables do not depend on it
SUPPRESSION_STREAM = 1
SUPPRESSION_SHARE = 0.01  # round(share * n_customers) customers, chosen uniformly at random
SUPPRESSION_UNKNOWN_IDS = 3  # plus stale ids that are not in customers (C9999001, ...)
SUPPRESSION_REASONS = ["customer_request", "legal_hold", "bounced"]
SUPPRESSION_REASON_P = [0.70, 0.05, 0.25]
