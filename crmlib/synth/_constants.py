"""Parameters of the synthetic CRM: acquisition channels, catalogue, messaging, planted effects."""

from __future__ import annotations

__all__ = [
    "AMOUNT_CAP",
    "CAC",
    "CATEGORIES",
    "CATEGORY_P",
    "CHANNEL_PARAMS",
    "CLUSTER_CUSTOMERS",
    "CLUSTER_LOYALTY",
    "CSAT_P",
    "CSAT_RESPONSE",
    "DAY_S",
    "DEAD_ENGAGEMENT",
    "DIRTY_REASONS",
    "EVENT_TYPES",
    "EXPERIMENT",
    "LOYALTY_TIERS",
    "MSG_CHANNELS",
    "MSG_PARAMS",
    "NPS_P",
    "NPS_RESPONSE",
    "NPS_SCORE_P",
    "ORDER_CHANNELS",
    "ORDER_CHANNEL_P",
    "ORPHAN_REFUND_SHARE",
    "PLANTED_PAIRS",
    "PRODUCTS_PER_CATEGORY",
    "Q4_MULTIPLIER",
    "REFUND_SHARE",
    "REGIONS",
    "REGION_P",
    "SATISFACTION_RHO",
    "SIGNUP_GROWTH",
    "SPEND_CAMPAIGNS",
    "SPEND_DAILY_SHAPE",
    "SPEND_NOISE_SD",
    "SPEND_STREAM",
    "SUPPRESSION_REASONS",
    "SUPPRESSION_REASON_P",
    "SUPPRESSION_SHARE",
    "SUPPRESSION_STREAM",
    "SUPPRESSION_UNKNOWN_IDS",
    "SURVEY_STREAM",
    "TX_COLUMNS",
    "VERSION",
]

# bump whenever the same seed gives different output (2: copies follow originals; 3: adds
# suppression.csv and truth_customers.csv, the four contract tables are unchanged; 4: adds
# surveys.csv and marketing_spend.csv from their own streams, every other file unchanged)
VERSION = 4
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

# Survey responses (surveys.csv), drawn from their own stream np.random.default_rng([seed,
# SURVEY_STREAM]) so that no other table depends on them. Each customer answers an NPS survey
# with probability NPS_RESPONSE["share"], uniformly 14-90 days after signup, and a CSAT survey
# on the first order with probability CSAT_RESPONSE["share"], 1-14 days after signup; answers
# dated after the window are not written (non-response at random given the channel).
# Satisfaction is a Gaussian copula on the customer's planted dropout probability p: with
# s = Phi^-1(1 - BetaCDF(p; a, b)) (standard normal within the channel, high = loyal),
# z = rho * s + sqrt(1 - rho^2) * e, so the per-channel category shares below hold exactly
# in expectation and promoters (high z) retain better.
SURVEY_STREAM = 2
NPS_RESPONSE = dict(share=0.40, min_days=14, max_days=90)
CSAT_RESPONSE = dict(share=0.50, min_days=1, max_days=14)
SATISFACTION_RHO = dict(nps=0.6, csat=0.5)  # correlation of z with the loyalty score s
# per channel: P(promoter 9-10), P(passive 7-8), P(detractor 0-6); planted NPS = 100 (P - D)
NPS_P: dict[str, tuple[float, float, float]] = {
    "email_referral": (0.55, 0.30, 0.15),
    "organic_search": (0.48, 0.32, 0.20),
    "paid_search": (0.40, 0.33, 0.27),
    "affiliate": (0.35, 0.33, 0.32),
    "social": (0.30, 0.32, 0.38),
    "marketplace": (0.25, 0.30, 0.45),
}
# the score within its NPS category
NPS_SCORE_P: dict[str, dict[int, float]] = {
    "promoter": {9: 0.45, 10: 0.55},
    "passive": {7: 0.50, 8: 0.50},
    "detractor": {0: 0.04, 1: 0.03, 2: 0.05, 3: 0.08, 4: 0.10, 5: 0.25, 6: 0.45},
}
# per channel: P(CSAT = 1), ..., P(CSAT = 5)
CSAT_P: dict[str, tuple[float, float, float, float, float]] = {
    "email_referral": (0.03, 0.05, 0.12, 0.35, 0.45),
    "organic_search": (0.04, 0.07, 0.15, 0.36, 0.38),
    "paid_search": (0.05, 0.09, 0.18, 0.36, 0.32),
    "affiliate": (0.06, 0.10, 0.20, 0.35, 0.29),
    "social": (0.08, 0.12, 0.22, 0.33, 0.25),
    "marketplace": (0.10, 0.14, 0.24, 0.31, 0.21),
}

# Marketing spend (marketing_spend.csv), drawn from np.random.default_rng([seed, SPEND_STREAM]).
# A channel's spend in a calendar month is CAC x the customers acquired through it that month
# (signups) x (1 + e), e ~ Normal(0, SPEND_NOISE_SD) floored at -0.9, spread over the month's
# days with Dirichlet(SPEND_DAILY_SHAPE) weights and split over its campaigns by fixed shares.
SPEND_STREAM = 3
CAC: dict[str, float] = {
    "email_referral": 12.0,
    "organic_search": 4.0,
    "paid_search": 38.0,
    "affiliate": 27.0,
    "social": 45.0,
    "marketplace": 19.0,
}
SPEND_NOISE_SD = 0.10
SPEND_DAILY_SHAPE = 20.0
# campaign -> share of the channel's daily spend; None: rows without a campaign
SPEND_CAMPAIGNS: dict[str, dict[str | None, float]] = {
    "email_referral": {None: 1.0},
    "organic_search": {None: 1.0},
    "paid_search": {"paid_search-brand": 0.35, "paid_search-generic": 0.65},
    "affiliate": {"affiliate-network": 1.0},
    "social": {"social-prospecting": 0.70, "social-retargeting": 0.30},
    "marketplace": {"marketplace-fees": 1.0},
}
