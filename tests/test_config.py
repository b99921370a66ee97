"""crmlib.config: the params file is validated once, errors name the key and the file."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter

from crmlib.config import (
    DEFAULT_SEED,
    DEFAULTS,
    STAGE_SECTIONS,
    ChurnParams,
    CohortsParams,
    WorkbookParams,
    load_params,
    load_stage_params,
    section_for_notebook,
)
from crmlib.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "params" / "default.yaml"


def _write(tmp_path: Path, payload: dict, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(payload), encoding="utf-8")
    return path


def _default() -> dict:
    return yaml.safe_load(DEFAULT.read_text(encoding="utf-8"))


def test_default_params_load_and_resolve_paths_against_the_file():
    params = load_params(DEFAULT)
    assert params.run_name == "sample"
    assert params.as_of_date == dt.date(2025, 12, 31)
    assert params.resolve(params.source.transactions.path) == (
        ROOT / "data" / "sample" / "transactions.csv.gz"
    )
    assert (params.currency, params.privacy.min_cell_size, params.seed) == ("EUR", 10, 20251231)


@pytest.mark.parametrize("section", ["cohorts", "segments", "clv", "churn", "ab_test"])
def test_a_stage_min_cell_size_is_refused_naming_privacy_min_cell_size(tmp_path, section):
    payload = _default()
    payload[section]["min_cell_size"] = 5
    with pytest.raises(ConfigError) as error:
        load_params(_write(tmp_path, payload))
    message = str(error.value)
    assert f"'{section}.min_cell_size' was replaced by 'privacy.min_cell_size'" in message
    assert message.startswith(str(tmp_path / "p.yaml"))


def test_privacy_min_cell_size_reaches_every_notebook_and_must_be_a_whole_number(tmp_path):
    payload = _default()
    payload["privacy"] = {"min_cell_size": 25}
    path = _write(tmp_path, payload)
    for section in STAGE_SECTIONS:
        assert load_stage_params(path, section).min_cell_size == 25
    payload["privacy"] = {"min_cell_size": 0}
    with pytest.raises(ConfigError, match=r"privacy\.min_cell_size"):
        load_params(_write(tmp_path, payload))


def test_every_stage_has_a_section_in_the_default_file():
    assert set(STAGE_SECTIONS) <= set(_default())


#: What params/default.yaml sets for the embedded sample, where it departs from the models'
#: defaults: its name, its order-value bounds and export day, and its suppression list.
SAMPLE_SETTINGS = {
    "run_name", "ingest.amount_min", "ingest.amount_max", "ingest.run_date",
    "segments.suppression_list", "churn.suppression_list",
}  # fmt: skip


def _departures(written: dict, model: BaseModel, path: str = "") -> dict[str, tuple]:
    """Each key of ``written`` whose validated value is not ``model``'s: key -> (file, model)."""
    found: dict[str, tuple] = {}
    for key, value in written.items():
        default = getattr(model, key)
        if isinstance(value, dict) and isinstance(default, BaseModel):
            found |= _departures(value, default, f"{path}{key}.")
            continue
        annotation = type(model).model_fields[key].annotation
        if TypeAdapter(annotation).validate_python(value) != default:
            found[f"{path}{key}"] = (value, default)
    return found


def test_the_default_file_writes_the_models_defaults():
    """Defaults live in the config models: params/default.yaml repeats them (so that an analyst
    sees every setting) and may depart only for the sample's own settings."""
    written = _default()
    model = WorkbookParams.model_validate(
        {"run_name": "x", "as_of_date": written["as_of_date"], "source": written["source"]}
    )
    departures = _departures(written, model)
    assert set(departures) == SAMPLE_SETTINGS, departures


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(colour="blue"), r"p\.yaml: unknown key 'colour'"),
        (lambda d: d["kpis"].update(periodd="month"), r"p\.yaml: unknown key 'kpis\.periodd'"),
        (lambda d: d["kpis"].update(period="fortnight"), r"key 'kpis\.period'.*'fortnight'"),
        (lambda d: d["ingest"].update(amount_max="lots"), r"key 'ingest\.amount_max'"),
        (lambda d: d.pop("as_of_date"), r"missing required key 'as_of_date'"),
        (lambda d: d.update(as_of_date="31/12/2025"), r"key 'as_of_date'"),
        (lambda d: d.update(currency="euro"), r"key 'currency'"),
        (lambda d: d.update(run_name="../escape"), r"key 'run_name'"),
        (
            lambda d: d["source"]["transactions"].update(delimiter=";;"),
            r"source\.transactions\.delimiter",
        ),
        (
            lambda d: d["source"]["transactions"].update(timestamp_format="dd/mm/yyyy"),
            r"no strptime",
        ),
        (lambda d: d["ingest"].update(refund_order_id_pattern="(unclosed"), r"regular expression"),
        (lambda d: d["engine"].update(memory_limit="lots"), r"engine\.memory_limit"),
        (
            lambda d: d["source"].pop("transactions"),
            r"key 'source': .*neither transactions nor experiment_export is set; expected "
            r"source\.transactions",
        ),
        (
            lambda d: d.update(
                source=d["source"] | {"transactions": None, "experiment_export": {"path": "ab.csv"}}
            ),
            r"key 'source': .*customers, events, assignments, surveys, marketing_spend set without "
            r"transactions; "
            r"expected source\.transactions",
        ),
        (
            lambda d: d.update(source={}),
            r"key 'source': .*neither transactions nor experiment_export is set",
        ),
        (
            lambda d: d["ab_test"].update(revenue_metric="spend"),
            r"key 'ab_test': .*revenue_metric 'spend' is not among metrics",
        ),
        (
            lambda d: d["ab_test"].update(retention_metric="came_back"),
            r"retention_metric 'came_back' is not among metrics",
        ),
        (
            lambda d: d["ab_test"].update(
                guardrails={"unsubscribed": {"margin": 0.01, "worse": "up"}}
            ),
            r"key 'ab_test\.guardrails\.unsubscribed\.worse'",
        ),
        (
            lambda d: d["ab_test"].update(guardrails={"unsubscribed": -0.01}),
            r"key 'ab_test\.guardrails\.unsubscribed\.margin'",
        ),
        (
            lambda d: d["segments"]["campaigns"][0].update(name="win back!"),
            r"segments\.campaigns\.0\.name",
        ),
        (
            lambda d: d["segments"]["campaigns"][1].update(channel="fax"),
            r"segments\.campaigns\.1\.channel",
        ),
        (lambda d: d["segments"].update(cluster_k_range=[5, 3]), r"cluster_k_range"),
        (lambda d: d["segments"].update(rules=[{"name": "All", "r": [1, 5]}]), r"rules\.0\.f"),
        (
            lambda d: d["segments"]["campaigns"][0].update(name="a" * 65),
            r"key 'segments\.campaigns\.0\.name': .*up to 64 characters",
        ),
        (
            lambda d: d["segments"]["campaigns"][0].update(segments=["At risk", "At risk"]),
            r"key 'segments\.campaigns\.0\.segments': .*listed twice",
        ),
        (
            lambda d: d["segments"]["campaigns"][1].update(frequency_cap_max=True),
            r"key 'segments\.campaigns\.1\.frequency_cap_max': .*not a whole number",
        ),
        (
            lambda d: d["segments"]["campaigns"][0].update(segment="At risk"),
            r"unknown key 'segments\.campaigns\.0\.segment'",
        ),
        (
            lambda d: d["segments"].update(rules=[{"name": "All", "r": [5, 1], "f": None}]),
            r"key 'segments\.rules\.0\.r': .*\[5, 1\] is empty",
        ),
        (
            lambda d: d["segments"].update(
                rules=[{"name": "A", "r": [2, 5], "f": None}, {"name": "A", "r": 1, "f": None}]
            ),
            r"key 'segments\.rules': .*'A' is listed twice \(rules #1 and #2\)",
        ),
        (
            lambda d: d["segments"].update(rules=[{"name": "(new)", "r": None, "f": None}]),
            r"key 'segments\.rules\.0\.name': .*reserved",
        ),
        (lambda d: d["segments"].update(rules=[]), r"key 'segments\.rules': .*at least 1 item"),
    ],
    ids=[
        "unknown-top-key",
        "unknown-section-key",
        "bad-literal",
        "bad-number",
        "missing-key",
        "bad-date",
        "bad-currency",
        "bad-run-name",
        "bad-delimiter",
        "bad-ts-format",
        "bad-regex",
        "bad-memory",
        "missing-transactions",
        "tables-without-transactions",
        "no-source-table",
        "revenue-metric-not-a-metric",
        "retention-metric-not-a-metric",
        "guardrail-bad-direction",
        "guardrail-negative-margin",
        "bad-campaign-slug",
        "bad-campaign-channel",
        "bad-k-range",
        "rule-without-f",
        "campaign-name-65-characters",
        "campaign-repeated-label",
        "campaign-cap-max-bool",
        "campaign-unknown-key",
        "rule-range-reversed",
        "rule-names-twice",
        "rule-reserved-name",
        "rules-empty",
    ],
)
def test_bad_params_fail_naming_file_and_key(tmp_path, mutate, message):
    payload = _default()
    mutate(payload)
    with pytest.raises(ConfigError, match=message):
        load_params(_write(tmp_path, payload))


def test_missing_and_non_mapping_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="list.yaml: expected a mapping"):
        load_params(tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("a: [1, 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_params(tmp_path / "broken.yaml")


def test_overrides_replace_top_level_keys_and_are_validated(tmp_path):
    params = load_params(DEFAULT, overrides={"run_name": "nightly"})
    assert params.run_name == "nightly"
    with pytest.raises(ConfigError, match="run_name"):
        load_params(DEFAULT, overrides={"run_name": ""})


@pytest.mark.parametrize(
    ("notebook", "section"),
    [("01_ingest.ipynb", "ingest"), ("02_kpis.ipynb", "kpis"), ("07_ab_test.ipynb", "ab_test")],
    ids=["ingest", "kpis", "ab_test"],
)
def test_section_for_notebook(notebook, section):
    assert section_for_notebook(notebook) == section


def test_section_for_notebook_rejects_unknown_names():
    with pytest.raises(ConfigError, match="NN_<section>"):
        section_for_notebook("08_magic.ipynb")


def test_guardrails_take_both_forms_and_the_old_one_means_higher_is_worse(tmp_path):
    payload = _default()
    payload["ab_test"]["metrics"] = [*payload["ab_test"]["metrics"], "complaints"]
    payload["ab_test"]["guardrails"] = {
        "complaints": 0.01,
        "retained": {"margin": 0.02, "worse": "lower"},
        "unsubscribed": {"margin": 0.005},
    }
    section = load_params(_write(tmp_path, payload)).section("ab_test")
    assert section["guardrails"] == {
        "complaints": {"margin": 0.01, "worse": "higher"},
        "retained": {"margin": 0.02, "worse": "lower"},
        "unsubscribed": {"margin": 0.005, "worse": "higher"},
    }


def test_money_metric_defaults_need_not_be_metrics_but_written_ones_must(tmp_path):
    payload = _default()
    payload["ab_test"].update(metrics=["converted", "spend"], primary_metric="converted")
    payload["ab_test"].pop("revenue_metric")
    payload["ab_test"].pop("retention_metric")
    ab = load_params(_write(tmp_path, payload)).ab_test  # defaults: said in words by 07
    assert (ab.revenue_metric, ab.retention_metric) == ("net_revenue", "repurchase")
    payload["ab_test"].update(revenue_metric="spend", retention_metric=None)
    ab = load_params(_write(tmp_path, payload)).ab_test
    assert (ab.revenue_metric, ab.retention_metric) == ("spend", None)


def test_an_experiment_export_alone_is_a_valid_source(tmp_path):
    payload = _default()
    payload["source"] = {"experiment_export": {"path": "ab.csv"}}
    params = load_params(_write(tmp_path, payload))
    assert params.source.transactions is None
    assert params.source.required("experiment_export").path == "ab.csv"
    with pytest.raises(ConfigError, match=r"source\.transactions is not set.*only 07_ab_test"):
        params.source.required("transactions")


def test_the_export_only_example_loads():
    params = load_params(ROOT / "params" / "ab_export_only.yaml")
    assert params.source.transactions is None and params.source.experiment_export is not None
    assert params.ab_test.guardrails["visited"].worse == "lower"
    assert params.ab_test.revenue_metric == "revenue"


def test_campaigns_and_rules_of_the_file_are_the_models_code_uses(tmp_path):
    from crmlib.activation import Campaign

    params = load_params(DEFAULT)
    assert all(isinstance(c, Campaign) for c in params.segments.campaigns)
    # the default campaigns (no campaigns key) are the ones default.yaml spells out
    payload = _default()
    del payload["segments"]["campaigns"]
    payload["source"] = {"transactions": {"path": "t.csv"}}
    payload["segments"].pop("suppression_list", None)
    assert load_params(_write(tmp_path, payload)).segments.campaigns == params.segments.campaigns
    payload["segments"]["campaigns"] = [
        {"name": "contact", "segments": "act", "channel": "email", "label_column": "action",
         "frequency_cap_days": None},
    ]  # fmt: skip
    payload["segments"]["rules"] = [
        {"name": "Top", "r": 2, "f": None},
        {"name": "Rest", "r": 1, "f": None},
    ]
    loaded = load_params(_write(tmp_path, payload)).segments
    assert loaded.campaigns == [
        Campaign(name="contact", segments=("act",), channel="email", label_column="action",
                 frequency_cap_days=None),
    ]  # fmt: skip
    assert loaded.campaigns[0].trigger == "entered"
    assert [(rule.name, rule.r, rule.f, rule.m) for rule in loaded.rules] == [
        ("Top", (2, 2), None, None),
        ("Rest", (1, 1), None, None),
    ]


# -- defaults: written once, in the models ----------------------------------------------------
#: (function, parameter, section, key): the keyword default of the library function is the
#: default of ``<section>.<key>`` of the params models (section None: a top-level key; a key
#: ending in ``[i]`` is that item). Changing a default in config.py is then the only change
#: needed; each signature reads it from :data:`crmlib.config.DEFAULTS`.
SIGNATURE_DEFAULTS: list[tuple[str, str, str | None, str]] = [
    (
        "crmlib.churn.models.baselines:btyd_churn_probability",
        "max_customers",
        "churn",
        "btyd_max_customers",
    ),
    ("crmlib.churn.models.baselines:btyd_churn_probability", "seed", None, "seed"),
    ("crmlib.churn.stage:holdout_scores", "max_customers", "churn", "btyd_max_customers"),
    ("crmlib.churn.stage:holdout_scores", "seed", None, "seed"),
    ("crmlib.churn.stage:churn_drivers", "max_rows", "churn", "importance_max_rows"),
    (
        "crmlib.churn.models.drivers:permutation_importance_table",
        "max_rows",
        "churn",
        "importance_max_rows",
    ),
    ("crmlib.clv.stage:cutoff_fits", "max_customers", "clv", "refit_max_customers"),
    ("crmlib.clv.stage:cutoff_fits", "seed", None, "seed"),
    ("crmlib.clv.intervals:clv_intervals", "max_customers", "clv", "interval_max_customers"),
    ("crmlib.clv.choice:choose_model", "penalizer", "clv", "penalizer"),
    ("crmlib.clv.choice:fit_with_fallback", "penalizer", "clv", "penalizer"),
    ("crmlib.clv.choice:spend_model", "penalizer", "clv", "penalizer"),
    ("crmlib.clv.value:Valuation", "horizon_months", "clv", "horizon_months"),
    ("crmlib.clv.value:Valuation", "annual_discount_rate", "clv", "annual_discount_rate"),
    ("crmlib.clv.value:Valuation", "margin", "clv", "margin"),
    ("crmlib.clv.value:Valuation", "unit", "clv", "unit"),
    (
        "crmlib.activation.audience:build_audience",
        "lookback_days",
        "segments",
        "migration_lookback_days",
    ),
    ("crmlib.activation.audience:build_audience", "seed", None, "seed"),
    ("crmlib.kpis.queries:channel_engagement", "period", "kpis", "period"),
    (
        "crmlib.kpis.queries:channel_engagement",
        "conversion_window_days",
        "kpis",
        "conversion_window_days",
    ),
    ("crmlib.kpis.queries:contactable_base", "period", "kpis", "period"),
    ("crmlib.kpis.queries:kpis_by_period", "period", "kpis", "period"),
    ("crmlib.cohorts.models.trend:ChannelGap.describe", "unit", "cohorts", "period"),
    ("crmlib.cohorts.models.trend:TrendResult.describe", "unit", "cohorts", "period"),
    ("crmlib.cohorts.plots:plot_km_curves", "max_days", "cohorts", "km_max_days"),
    ("crmlib.cohorts.queries.brackets:bracket_retention", "period", "cohorts", "period"),
    (
        "crmlib.cohorts.queries.brackets:bracket_retention",
        "first_cohort",
        "cohorts",
        "first_cohort",
    ),
    ("crmlib.cohorts.queries.brackets:bracket_retention", "brackets", "cohorts", "brackets"),
    ("crmlib.cohorts.queries.data_start:DataStart.describe", "unit", "cohorts", "period"),
    ("crmlib.cohorts.queries.data_start:data_start", "period", "cohorts", "period"),
    ("crmlib.cohorts.queries.data_start:data_start", "cohort_basis", "cohorts", "cohort_basis"),
    ("crmlib.cohorts.queries.data_start:data_start", "first_cohort", "cohorts", "first_cohort"),
    ("crmlib.cohorts.queries.lifecycle:lifecycle", "period", "cohorts", "period"),
    ("crmlib.cohorts.queries.lifecycle:transition_matrix", "period", "cohorts", "period"),
    ("crmlib.cohorts.queries.matrices:cohort_retention", "period", "cohorts", "period"),
    ("crmlib.cohorts.queries.matrices:cohort_retention", "cohort_basis", "cohorts", "cohort_basis"),
    ("crmlib.cohorts.queries.matrices:cohort_retention", "first_cohort", "cohorts", "first_cohort"),
    ("crmlib.cohorts.queries.matrices:cohort_revenue", "period", "cohorts", "period"),
    ("crmlib.cohorts.queries.matrices:cohort_revenue", "cohort_basis", "cohorts", "cohort_basis"),
    ("crmlib.cohorts.queries.matrices:cohort_revenue", "first_cohort", "cohorts", "first_cohort"),
    ("crmlib.cohorts.queries.survival:second_order_durations", "period", "cohorts", "period"),
    ("crmlib.cohorts.stage:cohort_checks", "cohort_basis", "cohorts", "cohort_basis"),
    ("crmlib.cohorts.stage:cohort_metrics", "period", "cohorts", "period"),
    ("crmlib.cohorts.stage:cohort_readiness", "period", "cohorts", "period"),
    ("crmlib.cohorts.stage:cohort_readiness", "cohort_basis", "cohorts", "cohort_basis"),
    ("crmlib.cohorts.stage:cohort_trends", "k", "cohorts", "trend_periods"),
    ("crmlib.cohorts.stage:cohort_trends", "unit", "cohorts", "period"),
    ("crmlib.cohorts.tables:definition_table", "unit", "cohorts", "period"),
    ("crmlib.cohorts.tables:display_matrix", "cohorts_shown", "cohorts", "cohorts_shown"),
    ("crmlib.cohorts.tables:trends_table", "unit", "cohorts", "period"),
    ("crmlib.cohorts.text:cohort_conclusion", "unit", "cohorts", "period"),
    ("crmlib.cohorts.text:describe_channel_retention", "k", "cohorts", "trend_periods[0]"),
    ("crmlib.cohorts.text:describe_channel_retention", "unit", "cohorts", "period"),
    ("crmlib.cohorts.text:describe_cohort_retention", "unit", "cohorts", "period"),
    ("crmlib.cohorts.text:describe_data_start", "unit", "cohorts", "period"),
    ("crmlib.cohorts.text:describe_definitions", "k", "cohorts", "trend_periods[0]"),
    ("crmlib.cohorts.text:describe_definitions", "unit", "cohorts", "period"),
    ("crmlib.cohorts.text:describe_lifecycle", "unit", "cohorts", "period"),
    ("crmlib.cohorts.text:describe_revenue_retention", "unit", "cohorts", "period"),
    ("crmlib.cohorts.text:describe_transitions", "unit", "cohorts", "period"),
    ("crmlib.cohorts.text:describe_trends", "unit", "cohorts", "period"),
    ("crmlib.segments.models.clusters:cluster_customers", "k_range", "segments", "cluster_k_range"),
    (
        "crmlib.segments.models.clusters:cluster_customers",
        "n_bootstrap",
        "segments",
        "cluster_bootstrap",
    ),
    ("crmlib.segments.models.clusters:cluster_customers", "seed", None, "seed"),
    ("crmlib.segments.models.profiles:segment_profiles", "by", "segments", "profile_dimensions"),
    ("crmlib.segments.models.rfm:rfm_scores", "bins", "segments", "bins"),
    ("crmlib.segments.models.rules:assign_segments", "bins", "segments", "bins"),
    ("crmlib.segments.plots:plot_affinity_heatmap", "level", "segments", "affinity_level"),
    (
        "crmlib.segments.queries.affinities:association_rules",
        "window_days",
        "segments",
        "window_days",
    ),
    ("crmlib.segments.queries.affinities:association_rules", "level", "segments", "affinity_level"),
    (
        "crmlib.segments.queries.affinities:association_rules",
        "min_pair_customers",
        "segments",
        "affinity_min_pair_customers",
    ),
    (
        "crmlib.segments.queries.clusters:behaviour_features",
        "window_days",
        "segments",
        "window_days",
    ),
    (
        "crmlib.segments.queries.migration:segment_migration",
        "lookback_days",
        "segments",
        "migration_lookback_days",
    ),
    (
        "crmlib.segments.queries.migration:segment_migration",
        "window_days",
        "segments",
        "window_days",
    ),
    ("crmlib.segments.queries.migration:segment_migration", "bins", "segments", "bins"),
    ("crmlib.segments.queries.rfm:rfm_features", "window_days", "segments", "window_days"),
    ("crmlib.segments.queries.rfm:rfm_table", "window_days", "segments", "window_days"),
    ("crmlib.segments.queries.rfm:rfm_table", "bins", "segments", "bins"),
    (
        "crmlib.segments.stage:baseline_membership",
        "lookback_days",
        "segments",
        "migration_lookback_days",
    ),
    ("crmlib.segments.stage:baseline_membership", "window_days", "segments", "window_days"),
    ("crmlib.segments.stage:baseline_membership", "bins", "segments", "bins"),
    ("crmlib.segments.stage:product_pairs", "window_days", "segments", "window_days"),
    (
        "crmlib.segments.stage:product_pairs",
        "min_pair_customers",
        "segments",
        "affinity_min_pair_customers",
    ),
    ("crmlib.segments.text:describe_affinities", "level", "segments", "affinity_level"),
    ("crmlib.segments.text:describe_cross_sell", "level", "segments", "affinity_level"),
    ("crmlib.churn.models.baselines:btyd_churn_probability", "unit", "churn", "btyd_unit"),
    ("crmlib.churn.models.drivers:partial_dependence_table", "seed", None, "seed"),
    ("crmlib.churn.models.drivers:permutation_importance_table", "seed", None, "seed"),
    ("crmlib.churn.models.scorecard:scorecard", "n_boot", "churn", "bootstrap_draws"),
    ("crmlib.churn.models.scorecard:scorecard", "seed", None, "seed"),
    ("crmlib.churn.models.training:fit_churn_models", "models", "churn", "models"),
    ("crmlib.churn.models.training:fit_churn_models", "calibration", "churn", "calibration"),
    (
        "crmlib.churn.models.training:fit_churn_models",
        "calibration_share",
        "churn",
        "calibration_share",
    ),
    ("crmlib.churn.models.training:fit_churn_models", "max_train_rows", "churn", "max_train_rows"),
    ("crmlib.churn.models.training:fit_churn_models", "seed", None, "seed"),
    ("crmlib.churn.models.training:trainability", "min_customers", "churn", "min_train_customers"),
    ("crmlib.churn.models.training:trainability", "min_class_count", "churn", "min_class_count"),
    ("crmlib.churn.models.value:band_summary", "thresholds", "churn", "band_thresholds"),
    ("crmlib.churn.models.value:customer_values", "margin", "churn", "margin"),
    ("crmlib.churn.models.value:risk_bands", "thresholds", "churn", "band_thresholds"),
    ("crmlib.churn.models.value:value_at_risk_by", "thresholds", "churn", "band_thresholds"),
    ("crmlib.churn.queries:active_customers_count", "lookback_days", "churn", "lookback_days"),
    ("crmlib.churn.queries:churn_features", "lookback_days", "churn", "lookback_days"),
    ("crmlib.churn.queries:churn_features", "horizon_days", "churn", "horizon_days"),
    ("crmlib.churn.queries:churn_features", "windows_days", "churn", "windows_days"),
    (
        "crmlib.churn.queries:churn_features",
        "engagement_windows_days",
        "churn",
        "engagement_windows_days",
    ),
    ("crmlib.churn.queries:churn_tables", "lookback_days", "churn", "lookback_days"),
    ("crmlib.churn.queries:churn_tables", "windows_days", "churn", "windows_days"),
    (
        "crmlib.churn.queries:churn_tables",
        "engagement_windows_days",
        "churn",
        "engagement_windows_days",
    ),
    ("crmlib.churn.queries:numeric_features", "windows_days", "churn", "windows_days"),
    (
        "crmlib.churn.queries:numeric_features",
        "engagement_windows_days",
        "churn",
        "engagement_windows_days",
    ),
    ("crmlib.churn.stage:churn_drivers", "top_features", "churn", "top_features"),
    ("crmlib.churn.stage:churn_drivers", "seed", None, "seed"),
    ("crmlib.churn.stage:churn_plan", "margin", "churn", "margin"),
    ("crmlib.churn.stage:churn_plan", "save_rate", "churn", "save_rate"),
    ("crmlib.churn.stage:churn_plan", "cost_per_contact", "churn", "cost_per_contact"),
    ("crmlib.churn.stage:holdout_scorecard", "n_boot", "churn", "bootstrap_draws"),
    ("crmlib.churn.stage:holdout_scorecard", "seed", None, "seed"),
    ("crmlib.churn.stage:holdout_scores", "btyd_unit", "churn", "btyd_unit"),
    ("crmlib.churn.stage:score_customers", "thresholds", "churn", "band_thresholds"),
    ("crmlib.experiments.models.effects:analyze_experiment", "control", "ab_test", "control"),
    ("crmlib.experiments.models.effects:analyze_experiment", "alpha", "ab_test", "alpha"),
    ("crmlib.experiments.models.health:covariate_balance", "control", "ab_test", "control"),
    ("crmlib.experiments.models.health:srm_table", "srm_alpha", "ab_test", "srm_alpha"),
    ("crmlib.experiments.models.money:campaign_economics", "control", "ab_test", "control"),
    ("crmlib.experiments.models.money:campaign_economics", "margin", "ab_test", "margin"),
    (
        "crmlib.experiments.models.money:campaign_economics",
        "cost_per_contact",
        "ab_test",
        "cost_per_contact",
    ),
    ("crmlib.experiments.models.money:campaign_economics", "alpha", "ab_test", "alpha"),
    (
        "crmlib.experiments.models.money:campaign_economics",
        "retention_col",
        "ab_test",
        "retention_metric",
    ),
    ("crmlib.experiments.models.money:with_clv_lift", "control", "ab_test", "control"),
    ("crmlib.experiments.models.money:with_clv_lift", "alpha", "ab_test", "alpha"),
    ("crmlib.experiments.models.power:power_table", "control", "ab_test", "control"),
    ("crmlib.experiments.models.power:power_table", "alpha", "ab_test", "alpha"),
    ("crmlib.experiments.models.power:power_table", "power", "ab_test", "power"),
    (
        "crmlib.experiments.models.power:sample_size_table",
        "planned_lifts",
        "ab_test",
        "planned_lifts",
    ),
    ("crmlib.experiments.models.power:sample_size_table", "alpha", "ab_test", "alpha"),
    ("crmlib.experiments.models.power:sample_size_table", "power", "ab_test", "power"),
    ("crmlib.experiments.models.survival:cumulative_outcome", "days", "ab_test", "window_days"),
    ("crmlib.experiments.models.survival:rmst_difference", "control", "ab_test", "control"),
    ("crmlib.experiments.models.survival:rmst_difference", "alpha", "ab_test", "alpha"),
    ("crmlib.experiments.models.verdicts:verdicts", "primary_metric", "ab_test", "primary_metric"),
    ("crmlib.experiments.models.verdicts:verdicts", "alpha", "ab_test", "alpha"),
    (
        "crmlib.experiments.queries.outcomes:experiment_outcomes",
        "window_days",
        "ab_test",
        "window_days",
    ),
    (
        "crmlib.experiments.queries.outcomes:experiment_outcomes",
        "pre_period_days",
        "ab_test",
        "pre_period_days",
    ),
    (
        "crmlib.experiments.queries.outcomes:experiment_outcomes",
        "retention_days",
        "ab_test",
        "retention_days",
    ),
    ("crmlib.experiments.tables:survival_table", "control", "ab_test", "control"),
    ("crmlib.experiments.text:describe_health", "control", "ab_test", "control"),
    ("crmlib.experiments.text:describe_power", "power", "ab_test", "power"),
]


def _target(spec: str) -> Any:
    module, _, qualname = spec.partition(":")
    target: Any = importlib.import_module(module)
    for name in qualname.split("."):
        target = getattr(target, name)
    return target


def _model_default(section: str | None, key: str) -> Any:
    """The default of a params key, read from a model built with no keys (not from DEFAULTS)."""
    name, index = re.fullmatch(r"(\w+)(?:\[(\d+)\])?", key).groups()  # type: ignore[union-attr]
    if section is None:
        value = WorkbookParams.model_fields[name].get_default(call_default_factory=True)
    else:
        model = WorkbookParams.model_fields[section].get_default(call_default_factory=True)
        value = getattr(model, name)
    return value if index is None else value[int(index)]


def _plain(value: Any) -> Any:
    """Lists and tuples alike (a signature holds a tuple where the model holds a list)."""
    return [_plain(item) for item in value] if isinstance(value, (list, tuple)) else value


@pytest.mark.parametrize(("function", "parameter", "section", "key"), SIGNATURE_DEFAULTS)
def test_signature_defaults_are_the_config_models_defaults(function, parameter, section, key):
    default = inspect.signature(_target(function)).parameters[parameter].default
    assert default is not inspect.Parameter.empty, f"{function}({parameter}) has no default"
    assert _plain(default) == _plain(_model_default(section, key)), (
        f"{function}({parameter}={default!r}) differs from the default of "
        f"{section + '.' if section else ''}{key}"
    )


def test_defaults_are_the_models_own_and_cannot_be_rebound():
    for section in (*STAGE_SECTIONS, "privacy"):
        model = WorkbookParams.model_fields[section].get_default(call_default_factory=True)
        assert getattr(DEFAULTS, section) == model
    assert DEFAULTS.seed == DEFAULT_SEED == WorkbookParams.model_fields["seed"].default
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULTS.churn = ChurnParams(lookback_days=30)  # type: ignore[misc]


def test_module_constants_of_defaults_follow_the_models():
    from crmlib.churn.models.value import DEFAULT_THRESHOLDS
    from crmlib.cohorts.queries.brackets import DEFAULT_BRACKETS

    assert _plain(DEFAULT_BRACKETS) == _plain(CohortsParams().brackets)
    assert _plain(DEFAULT_THRESHOLDS) == _plain(ChurnParams().band_thresholds)
