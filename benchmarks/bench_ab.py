"""07_ab_test on 1M assigned customers (about 10M orders): seconds per step, peak RSS.

Usage: ``python benchmarks/bench_ab.py [--customers 1000000] [--seed 1]``.
Reuses the cached synthetic data of ``bench_ingest_kpis.py``; ingest runs once and is not
timed. Every customer of the synthetic CRM is assigned 50/50 (a seeded draw) to control or
treatment of one experiment on 2025-10-01 09:00, so 1M customers are assigned (the generator's
own win-back experiment holds only the at-risk ones). As of 2025-12-31.

Timed, crmlib, step by step: outcomes in SQL (``experiment_outcomes``: 30-day window, 90-day
retention, 365-day pre-period, events), SRM + covariate balance, ``analyze_experiment`` on six
metrics with CUPED on three, ``campaign_economics``, the Kaplan-Meier time-to-purchase curves
and ``rmst_difference`` at 30 days. Target: <= 15 s for all of it. Then the stage as the
notebook runs it (``experiment_data`` + ``analyze_ab`` on the default ``ab_test`` settings:
effects overall and by acquisition channel, economics, verdicts, power, Kaplan-Meier, RMST),
against the same target. Peak RSS is the process's.

The plain alternative, in the same process, like-for-like with crmlib's outcomes, health and
effects: pandas reads the canonical parquet tables, merges the placed orders
(``gross_amount > 0``) and the open/click/unsubscribe events onto the assignments and computes
every outcome column with vectorized offsets in microseconds and ``groupby`` (repurchase,
orders, net_revenue, retained, opens, clicks, unsubscribes, pre_orders, pre_spend,
days_to_purchase, and observed_days_total, days_observed, window_closed). Then scipy: SRM
(``chisquare``), the covariate balance (SMD), Welch's t-test per continuous metric, the
two-proportion test (2x2 ``chi2_contingency`` without continuity correction: the pooled
z-test) per binary one, CUPED (numpy theta, then Welch) on repurchase, orders and net_revenue,
and Holm's adjustment. The like-for-like speed ratio compares it with the crmlib steps doing
the same work (outcomes, SRM + balance, analyze_experiment); crmlib's total also includes
economics, Kaplan-Meier and RMST, which the plain path does not compute.

After timing, the plain outcome table is checked against crmlib's column by column (max
absolute difference; money agrees to 1e-6 after rounding to cents, counts exactly), and so
are the raw differences in means, the effects, CIs and p-values, SRM and the balance; any
disagreement exits 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
from bench_ingest_kpis import PeakRSS, ingested_run, synthetic_data, workbook_params
from scipy import stats

import crmlib as crm

AS_OF = "2025-12-31"
END = pd.Timestamp(AS_OF) + pd.Timedelta(days=1)  # crmlib.periods.exclusive_end
ASSIGNED = pd.Timestamp("2025-10-01 09:00:00")
METRICS = ["repurchase", "orders", "net_revenue", "opens", "clicks", "unsubscribes"]
CUPED = {"repurchase": "pre_orders", "orders": "pre_orders", "net_revenue": "pre_spend"}
BALANCE = ["pre_orders", "pre_spend"]
TARGET_SECONDS = 15.0
US_PER_DAY = 86_400 * 1_000_000
WINDOW_US, RETENTION_US, PRE_US = 30 * US_PER_DAY, 90 * US_PER_DAY, 365 * US_PER_DAY
EVENTS = {"open": "opens", "click": "clicks", "unsubscribe": "unsubscribes"}
MONEY = ["net_revenue", "pre_spend"]
COUNTS = ["repurchase", "orders", "retained", "opens", "clicks", "unsubscribes", "pre_orders"]
DAYS = ["days_to_purchase", "observed_days_total", "days_observed"]
#: Tolerances of the agreement checks: money after rounding to cents, days, means and effects.
MONEY_TOL, DAYS_TOL, MEAN_TOL, RTOL = 1e-6, 1e-9, 1e-9, 1e-6


def assignments(customer_ids: pd.Series, seed: int) -> pd.DataFrame:
    """Every customer, 50/50 at random, treatment cost 1.50 per contact.

    The draw follows the sorted ids: ingest does not keep the row order of the customers table
    from one run to the next, so drawing in file order would assign different customers each run.
    """
    ids = customer_ids.sort_values(ignore_index=True)
    treated = np.random.default_rng(seed).random(len(ids)) < 0.5
    return pd.DataFrame(
        {
            "customer_id": ids.to_numpy(),
            "experiment_id": "bench-2025-10",
            "variant": np.where(treated, "treatment", "control"),
            "assigned_ts": ASSIGNED,
            "cost": np.where(treated, 1.5, 0.0),
        }
    )


def timed(work: Callable[[], Any]) -> tuple[Any, float, int]:
    """``work()``, its seconds and the process's peak RSS meanwhile (``measure``, silent)."""
    with PeakRSS() as rss:
        started = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - started
    return result, seconds, rss.peak


def row(label: str, seconds: float, peak: int | None = None, extra: str = "") -> None:
    memory = f"{peak / 2**30:8.2f} GiB" if peak is not None else " " * 12
    print(f"  {label:<46} {seconds:8.2f} s {memory}  {extra}".rstrip(), flush=True)


def crmlib_steps(engine: Any) -> tuple[dict[str, Any], list[tuple[str, float, int]]]:
    """The crmlib path, each step timed; its results and (step, seconds, peak RSS)."""
    ours: dict[str, Any] = {}
    steps: list[tuple[str, float, int]] = []

    def step(label: str, key: str, work: Callable[[], Any]) -> None:
        ours[key], seconds, peak = timed(work)
        steps.append((label, seconds, peak))
        row(label, seconds, peak)

    step(
        "outcomes (SQL)",
        "outcomes",
        lambda: crm.experiments.experiment_outcomes(engine, as_of_date=AS_OF),
    )
    outcomes = ours["outcomes"]
    step(
        "SRM + covariate balance",
        "health",
        lambda: (
            crm.experiments.srm_table(outcomes),
            crm.experiments.covariate_balance(outcomes, covariates=BALANCE),
        ),
    )
    step(
        "analyze_experiment (6 metrics, CUPED on 3)",
        "results",
        lambda: crm.experiments.analyze_experiment(outcomes, metrics=METRICS, covariates=CUPED),
    )
    step("campaign_economics", "economics", lambda: crm.experiments.campaign_economics(outcomes))
    step(
        "Kaplan-Meier curves (time_to_purchase_curves)",
        "curves",
        lambda: crm.experiments.time_to_purchase_curves(outcomes),
    )
    step(
        "rmst_difference (horizon 30 days)",
        "rmst",
        lambda: crm.experiments.rmst_difference(outcomes, horizon_days=30),
    )
    return ours, steps


def _offset_us(ts: pd.Series, assigned_ts: pd.Series) -> np.ndarray:
    """``ts - assigned_ts`` in whole microseconds (int64)."""
    return (ts - assigned_ts).to_numpy().astype("timedelta64[us]").astype(np.int64)


def plain_outcomes(
    transactions_path: Path, events_path: Path, assigned: pd.DataFrame
) -> pd.DataFrame:
    """crmlib's outcome columns the plain way: pandas merges, vectorized offsets, groupby.

    The assignments here hold one row per customer, so crmlib's rule for customers assigned
    to several variants has nothing to do and is not repeated.
    """
    base = assigned[["customer_id", "experiment_id", "variant", "assigned_ts", "cost"]]
    when = base[["customer_id", "assigned_ts"]]
    tx = pd.read_parquet(
        transactions_path, columns=["customer_id", "order_ts", "amount", "gross_amount"]
    )
    tx = tx[(tx["gross_amount"] > 0) & (tx["order_ts"] < END)]
    placed = tx.merge(when, on="customer_id")
    offset = _offset_us(placed["order_ts"], placed["assigned_ts"])
    kept = offset >= -PRE_US
    offset = offset[kept]
    amount = placed["amount"].to_numpy()[kept]
    in_window = (offset > 0) & (offset <= WINDOW_US)
    before = offset < 0
    purchases = (
        pd.DataFrame(
            {
                "customer_id": placed["customer_id"].to_numpy()[kept],
                "orders": in_window.astype(np.float64),
                "net_revenue": np.where(in_window, amount, 0.0),
                "retention_hit": ((offset > 0) & (offset <= RETENTION_US)).astype(np.float64),
                "pre_orders": before.astype(np.float64),
                "pre_spend": np.where(before, amount, 0.0),
                "first_us": np.where(offset > 0, offset, np.nan),
            }
        )
        .groupby("customer_id", sort=False)
        .agg(
            orders=("orders", "sum"),
            net_revenue=("net_revenue", "sum"),
            retention_hit=("retention_hit", "max"),
            pre_orders=("pre_orders", "sum"),
            pre_spend=("pre_spend", "sum"),
            first_us=("first_us", "min"),
        )
    )
    events = pd.read_parquet(events_path, columns=["customer_id", "event_ts", "event_type"])
    events = events[events["event_type"].isin(list(EVENTS)) & (events["event_ts"] < END)]
    events = events.merge(when, on="customer_id")
    offset = _offset_us(events["event_ts"], events["assigned_ts"])
    events = events[(offset > 0) & (offset <= WINDOW_US)]
    engagement = (
        events.groupby(["customer_id", "event_type"], sort=False)
        .size()
        .unstack(fill_value=0)
        .reindex(columns=list(EVENTS), fill_value=0)
        .rename(columns=EVENTS)
        .astype(np.float64)
    )
    table = base.merge(purchases, on="customer_id", how="left").merge(
        engagement, on="customer_id", how="left"
    )
    zero = ["orders", "net_revenue", "retention_hit", "pre_orders", "pre_spend", *EVENTS.values()]
    table[zero] = table[zero].fillna(0.0)
    table[MONEY] = table[MONEY].round(2)
    observed_us = _offset_us(pd.Series(END, index=table.index), table["assigned_ts"])
    table["repurchase"] = (table["orders"] > 0).astype(np.float64)
    table["retained"] = table["retention_hit"].where(observed_us >= RETENTION_US)
    table["window_closed"] = observed_us >= WINDOW_US
    table["days_observed"] = np.minimum(observed_us / US_PER_DAY, WINDOW_US / US_PER_DAY)
    table["days_to_purchase"] = table["first_us"] / US_PER_DAY
    table["observed_days_total"] = observed_us / US_PER_DAY
    return table.drop(columns=["retention_hit", "first_us"])


def _holm(p_values: np.ndarray) -> np.ndarray:
    order = np.argsort(p_values, kind="stable")
    stepped = np.maximum.accumulate(p_values[order] * np.arange(len(p_values), 0, -1))
    adjusted = np.empty_like(p_values)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def _welch(y_t: np.ndarray, y_c: np.ndarray) -> dict[str, float]:
    test = stats.ttest_ind(y_t, y_c, equal_var=False)
    ci = test.confidence_interval(0.95)
    se = float(np.sqrt(y_t.var(ddof=1) / len(y_t) + y_c.var(ddof=1) / len(y_c)))
    diff = float(y_t.mean() - y_c.mean())
    return {"abs_diff": diff, "ci_low": ci.low, "ci_high": ci.high, "p": test.pvalue, "se": se}


def _two_proportions(y_t: np.ndarray, y_c: np.ndarray) -> dict[str, float]:
    """Unpooled Wald CI; p-value of the pooled z-test (= 2x2 chi-square, no correction)."""
    x_t, x_c, n_t, n_c = y_t.sum(), y_c.sum(), len(y_t), len(y_c)
    _, p, _, _ = stats.chi2_contingency([[x_t, n_t - x_t], [x_c, n_c - x_c]], correction=False)
    p_t, p_c = x_t / n_t, x_c / n_c
    se = float(np.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c))
    z = stats.norm.ppf(0.975)
    diff = float(p_t - p_c)
    return {"abs_diff": diff, "ci_low": diff - z * se, "ci_high": diff + z * se, "p": p, "se": se}


def plain_statistics(table: pd.DataFrame) -> dict[str, Any]:
    """SRM, covariate balance and the effect of treatment on every metric, with scipy."""
    arm = table["variant"].to_numpy()
    treated = arm == "treatment"
    control = arm == "control"
    srm = stats.chisquare([int(control.sum()), int(treated.sum())])
    moments = table.groupby("variant")[BALANCE].agg(["mean", "var"])
    balance = {
        covariate: (
            moments.loc["treatment", (covariate, "mean")]
            - moments.loc["control", (covariate, "mean")]
        )
        / np.sqrt(
            (
                moments.loc["treatment", (covariate, "var")]
                + moments.loc["control", (covariate, "var")]
            )
            / 2
        )
        for covariate in BALANCE
    }
    rows = []
    for metric in METRICS:
        y = table[metric].to_numpy(dtype=np.float64)
        raw = _welch(y[treated], y[control])
        binary = bool(np.isin(np.unique(y), [0.0, 1.0]).all())
        effect = _two_proportions(y[treated], y[control]) if binary else raw
        reduction = 0.0
        if metric in CUPED:
            x = table[CUPED[metric]].to_numpy(dtype=np.float64)
            theta = np.cov(y, x, ddof=1)[0, 1] / x.var(ddof=1)
            adjusted = y - theta * (x - x.mean())
            effect = _welch(adjusted[treated], adjusted[control])
            reduction = 1 - (effect["se"] / raw["se"]) ** 2
        rows.append(
            {
                "metric": metric,
                "kind": "binary" if binary else "continuous",
                "raw_diff": raw["abs_diff"],
                **{key: effect[key] for key in ("abs_diff", "ci_low", "ci_high", "p")},
                "cuped": metric in CUPED,
                "variance_reduction": reduction,
            }
        )
    effects = pd.DataFrame(rows).set_index("metric")
    effects["p_adjusted"] = _holm(effects["p"].to_numpy())
    return {"srm_p": float(srm.pvalue), "balance": balance, "effects": effects}


def plain_path(
    transactions_path: Path, events_path: Path, assigned: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, float]]:
    started = time.perf_counter()
    table = plain_outcomes(transactions_path, events_path, assigned)
    middle = time.perf_counter()
    statistics = plain_statistics(table)
    seconds = {"outcomes": middle - started, "statistics": time.perf_counter() - middle}
    return table, statistics, seconds


def compare(ours: dict[str, Any], plain: pd.DataFrame, statistics: dict[str, Any]) -> list[str]:
    """Print the agreement of the plain path with crmlib; return what disagrees."""
    bad: list[str] = []
    outcomes = ours["outcomes"]
    theirs = plain.set_index("customer_id").reindex(outcomes["customer_id"])
    missing = int(theirs["variant"].isna().sum())
    if len(plain) != len(outcomes) or missing:
        bad.append(f"rows: crmlib {len(outcomes):,}, plain {len(plain):,} ({missing} unmatched)")
    if (theirs["variant"].to_numpy() != outcomes["variant"].to_numpy()).any():
        bad.append("variant differs")
    print("outcome columns, max |crmlib - plain| (money rounded to cents):")
    columns = [*COUNTS[:3], "net_revenue", *COUNTS[3:], "pre_spend", *DAYS, "window_closed"]
    for column in columns:
        a = outcomes[column].to_numpy(dtype=np.float64)
        b = theirs[column].to_numpy(dtype=np.float64)
        if column in MONEY:
            a, b = np.round(a, 2), np.round(b, 2)
        nan_mismatch = int((np.isnan(a) != np.isnan(b)).sum())
        both = ~np.isnan(a) & ~np.isnan(b)
        gap = float(np.abs(a[both] - b[both]).max()) if both.any() else 0.0
        tolerance = MONEY_TOL if column in MONEY else DAYS_TOL if column in DAYS else 0.0
        ok = nan_mismatch == 0 and gap <= tolerance
        print(
            f"  {column:<20} {gap:10.3g}   NaN: {int(np.isnan(a).sum()):>9,} crmlib, "
            f"{int(np.isnan(b).sum()):>9,} plain   {'ok' if ok else 'DISAGREES'}"
        )
        if not ok:
            bad.append(f"{column}: max gap {gap:.3g}, NaN mismatches {nan_mismatch}")
    means = outcomes.groupby("variant")[METRICS].mean()
    raw = means.loc["treatment"] - means.loc["control"]
    results = ours["results"].set_index("metric")
    effects = statistics["effects"]
    print(
        "treatment - control: raw difference in means, effect (CUPED where marked), p-value:\n"
        f"  {'metric':<13} {'raw crmlib':>12} {'|gap|':>9} {'effect crmlib':>14} {'|gap|':>9} "
        f"{'p crmlib':>10} {'p plain':>10}  kind"
    )
    for metric in METRICS:
        mine = effects.loc[metric]
        result = results.loc[metric]
        raw_gap = abs(float(raw[metric]) - mine["raw_diff"])
        effect_gap = abs(float(result["abs_diff"]) - mine["abs_diff"])
        print(
            f"  {metric:<13} {raw[metric]:12.6g} {raw_gap:9.2g} {result['abs_diff']:14.6g} "
            f"{effect_gap:9.2g} {result['p_value']:10.4g} {mine['p']:10.4g}  "
            f"{result['metric_kind']}{', CUPED' if mine['cuped'] else ''}"
        )
        if raw_gap > MEAN_TOL:
            bad.append(f"{metric}: raw difference in means differs by {raw_gap:.3g}")
        pairs = {
            "abs_diff": "abs_diff",
            "abs_ci_low": "ci_low",
            "abs_ci_high": "ci_high",
            "p_value": "p",
            "p_adjusted": "p_adjusted",
            "variance_reduction": "variance_reduction",
        }
        for theirs_name, mine_name in pairs.items():
            if not np.isclose(result[theirs_name], mine[mine_name], rtol=RTOL, atol=1e-12):
                bad.append(
                    f"{metric}: {theirs_name} crmlib {result[theirs_name]:.10g}, "
                    f"plain {mine[mine_name]:.10g}"
                )
        if result["metric_kind"] != mine["kind"] or bool(result["cuped"]) != bool(mine["cuped"]):
            bad.append(f"{metric}: kind/CUPED differ")
    srm, balance = ours["health"]
    srm_p = float(srm["p_value"].iloc[0])
    smd = balance.set_index("covariate")["smd"]
    smd_gap = max(abs(float(smd[c]) - float(statistics["balance"][c])) for c in BALANCE)
    print(
        f"SRM p: crmlib {srm_p:.4f}, plain {statistics['srm_p']:.4f}; "
        f"covariate balance max |SMD gap| {smd_gap:.2g}"
    )
    if not np.isclose(srm_p, statistics["srm_p"], rtol=RTOL, atol=1e-12) or smd_gap > MEAN_TOL:
        bad.append("SRM or covariate balance differs")
    return bad


def whole_stage(engine: Any, params: Any) -> Any:
    """07_ab_test as the notebook runs it, on the default ``ab_test`` settings."""
    params = params.model_copy(
        update={
            "as_of_date": AS_OF,
            "ab_test": params.ab_test.model_copy(update={"input": "assignments"}),
        }
    )
    data = crm.experiments.experiment_data(engine, params=params)
    return crm.experiments.analyze_ab(
        data,
        settings=params.ab_test,
        currency=params.currency,
        min_cell_size=params.privacy.min_cell_size,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    folder = synthetic_data(args.customers, args.seed)
    params = workbook_params(folder, tables=("transactions", "customers", "events"))
    with ingested_run(params) as run:
        assigned = assignments(
            run.read_table("customers", columns=["customer_id"])["customer_id"], args.seed
        )
        print(f"crmlib, per step ({args.customers:,} customers):", flush=True)
        with crm.engine.Engine.from_config(params.engine) as engine:
            run.register(engine, "transactions", "events")
            engine.register("assignments", assigned)
            ours, steps = crmlib_steps(engine)
            run.register(engine, "customers")
            stage, stage_seconds, stage_peak = timed(lambda: whole_stage(engine, params))
        plain_start = psutil.Process().memory_info().rss
        (plain, statistics, split), plain_seconds, plain_peak = timed(
            lambda: plain_path(run.table_path("transactions"), run.table_path("events"), assigned)
        )

    total = sum(seconds for _, seconds, _ in steps)
    peak = max(peak for _, _, peak in steps)
    same_work = sum(seconds for _, seconds, _ in steps[:3])
    met = total <= TARGET_SECONDS
    row("total", total, peak)
    print(f"  target (<= {TARGET_SECONDS:.0f} s): {'met' if met else 'NOT met'}")
    print(f"  peak RSS: {peak / 2**30:.2f} GiB")
    row(
        "07_ab_test as the notebook runs it",
        stage_seconds,
        stage_peak,
        f"(experiment_data + analyze_ab: {len(stage.results):,} result rows with segments, "
        "economics, verdicts, power, KM, RMST)",
    )
    stage_met = stage_seconds <= TARGET_SECONDS
    print(f"  target (<= {TARGET_SECONDS:.0f} s): {'met' if stage_met else 'NOT met'}")
    print("plain pandas + scipy (outcomes, SRM + balance, effects with CUPED):")
    row("outcomes (parquet, merges, groupby)", split["outcomes"])
    row("statistics (scipy)", split["statistics"])
    row("total", plain_seconds, plain_peak)
    print(
        f"  peak RSS: {plain_peak / 2**30:.2f} GiB (process; {plain_start / 2**30:.2f} GiB at its "
        "start, crmlib's results still held)"
    )
    print(
        "speed ratio plain / crmlib, the same work "
        f"(outcomes + SRM/balance + analyze_experiment, {same_work:.2f} s): "
        f"{plain_seconds / same_work:5.2f}x"
    )
    print(
        "speed ratio plain / crmlib total (crmlib also: economics, KM, RMST): "
        f"{plain_seconds / total:5.2f}x"
    )
    outcomes = ours["outcomes"]
    print(
        f"assigned customers: {len(outcomes):,}; result rows: {len(ours['results']):,}; "
        f"KM curve rows: {len(ours['curves']):,}"
    )
    bad = compare(ours, plain, statistics)
    if bad:
        print("DISAGREEMENT between crmlib and the plain path:")
        for line in bad:
            print(f"  {line}")
        return 1
    print("plain path agrees with crmlib on every outcome column, mean difference and effect")
    return 0


if __name__ == "__main__":
    sys.exit(main())
