"""crmlib.config: the params file is validated once, errors name the key and the file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter

from crmlib.config import (
    STAGE_SECTIONS,
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
            r"key 'source': .*customers, events, assignments set without transactions; "
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
