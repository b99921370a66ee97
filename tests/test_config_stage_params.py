"""crmlib.config.load_stage_params: one notebook's typed params from the run's params file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from crmlib.config import (
    COMMON_KEYS,
    DEFAULT_SEED,
    STAGE_SECTIONS,
    StageParams,
    WorkbookParams,
    load_params,
    load_stage_params,
)
from crmlib.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "params" / "default.yaml"


def _write(tmp_path: Path, payload: dict) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(payload), encoding="utf-8")
    return path


def _default() -> dict:
    return yaml.safe_load(DEFAULT.read_text(encoding="utf-8"))


@pytest.mark.parametrize("section", STAGE_SECTIONS)
def test_a_notebook_reads_its_section_and_the_common_keys_typed(section: str) -> None:
    workbook = load_params(DEFAULT)
    params = load_stage_params(DEFAULT, section)
    model = getattr(workbook, section)
    for key in type(model).model_fields:
        assert getattr(params, key) == getattr(model, key), key
    assert params.section == model
    assert params.as_of_date == dt.date(2025, 12, 31)  # a date, not a string to parse again
    assert (params.run_name, params.currency) == ("sample", "EUR")
    assert params.min_cell_size == workbook.privacy.min_cell_size == 10
    assert params.seed == workbook.seed == DEFAULT_SEED
    assert params.engine == workbook.engine and params.source == workbook.source
    assert params.resolve("x.csv") == workbook.resolve("x.csv")


def test_no_section_key_is_shadowed_by_a_common_key() -> None:
    """``params.<key>`` has one meaning: no section declares a name the top level provides."""
    reserved = set(COMMON_KEYS) | {"name", "section", "workbook", "resolve"}
    for section in STAGE_SECTIONS:
        fields = set(type(WorkbookParams.model_fields[section].default_factory()).model_fields)
        assert not fields & reserved, (section, fields & reserved)


def test_overrides_of_the_section_may_be_flat_or_nested() -> None:
    flat = load_stage_params(DEFAULT, "clv", {"horizon_months": 24})
    nested = load_stage_params(DEFAULT, "clv", {"clv": {"horizon_months": 24}})
    assert flat.horizon_months == nested.horizon_months == 24
    # the other keys keep the file's values
    assert flat.margin == nested.margin == load_params(DEFAULT).clv.margin
    renamed = load_stage_params(DEFAULT, "kpis", {"run_name": "nightly", "period": "week"})
    assert (renamed.run_name, renamed.period) == ("nightly", "week")


def test_a_mapping_key_is_replaced_whole_not_blended() -> None:
    params = load_stage_params(DEFAULT, "ab_test", {"guardrails": {"complaints": {"margin": 0.01}}})
    assert set(params.guardrails) == {"complaints"}


def test_a_bad_override_fails_like_a_bad_file_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"key 'clv\.horizon_months'.*less than or equal to 120"):
        load_stage_params(DEFAULT, "clv", {"horizon_months": 1000})
    with pytest.raises(ConfigError, match=r"unknown key 'kpis\.horizon_months'"):
        load_stage_params(DEFAULT, "kpis", {"horizon_months": 24})
    with pytest.raises(ConfigError, match=r"unknown stage section 'clvv'"):
        load_stage_params(DEFAULT, "clvv")


def test_an_unknown_attribute_names_the_section_and_its_keys() -> None:
    params = load_stage_params(DEFAULT, "kpis")
    with pytest.raises(
        AttributeError, match=r"'horizon_months' is neither a key of section 'kpis'"
    ):
        _ = params.horizon_months
    assert "periods_shown" in dir(params) and "as_of_date" in dir(params)
    assert (
        isinstance(params, StageParams) and repr(params) == "StageParams('kpis', run_name='sample')"
    )


@pytest.mark.parametrize("section", ["segments", "clv", "churn"])
def test_a_section_seed_is_moved_to_the_top_level(tmp_path: Path, section: str) -> None:
    payload = _default()
    payload.setdefault(section, {})["seed"] = 7
    with pytest.raises(ConfigError, match=rf"key '{section}\.seed' was replaced by the top-level"):
        load_params(_write(tmp_path, payload))


def test_one_seed_for_the_run(tmp_path: Path) -> None:
    payload = _default()
    payload["seed"] = 7
    params = load_stage_params(_write(tmp_path, payload), "churn")
    assert params.seed == 7
    del payload["seed"]
    assert load_params(_write(tmp_path, payload)).seed == DEFAULT_SEED
