"""Tests of crmlib.experiments.queries.export: reading an experimentation platform's per-customer export."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from crmlib.config import WorkbookParams
from crmlib.engine import Engine
from crmlib.errors import CheckFailed, ConfigError, SourceFileError
from crmlib.experiments import analyze_experiment, experiment_outcomes
from crmlib.experiments.queries import export as export_module
from crmlib.experiments.queries.export import (
    EXPORT_REJECT_COLUMNS,
    EXPORT_REJECT_REASONS,
    ExperimentExport,
    read_experiment_export,
)

ROOT = Path(__file__).resolve().parents[1]
HEADER = "experiment_id,customer_id,variant,converted,spend,pre_spend,channel\n"


@pytest.fixture
def engine() -> Iterator[Engine]:
    with Engine(threads=1) as eng:
        yield eng


def _params(path: str | Path, **settings: Any) -> WorkbookParams:
    """Params whose source.experiment_export reads ``path`` (absolute) with ``settings``."""
    return WorkbookParams.model_validate(
        {
            "run_name": "test",
            "as_of_date": "2025-12-31",
            "source": {
                "transactions": {"path": str(path)},
                "experiment_export": {"path": str(path), **settings},
            },
        }
    )


def _read(
    path: str | Path,
    engine: Engine,
    *,
    metrics: tuple[str, ...] = ("converted", "spend"),
    covariates: tuple[str, ...] = ("pre_spend",),
    segments: tuple[str, ...] = ("channel",),
    **settings: Any,
) -> ExperimentExport:
    params = _params(path, **settings)
    assert params.source.experiment_export is not None
    export = read_experiment_export(
        params.source.experiment_export,
        params=params,
        engine=engine,
        metrics=metrics,
        covariates=covariates,
        segments=segments,
    )
    # every row read is either accepted or rejected, exactly once
    assert export.rows_read == len(export.table) + len(export.rejects)
    assert tuple(export.rejects.columns) == EXPORT_REJECT_COLUMNS
    assert set(export.rejects["reason"]) <= set(EXPORT_REJECT_REASONS)
    # the engine is left as it was: no temp table or view of ours survives
    left = engine.query("SELECT table_name FROM information_schema.tables")["table_name"]
    assert not [name for name in left if name.startswith("experiment_export")]
    return export


def _write(path: Path, *rows: str, header: str = HEADER) -> Path:
    path.write_text(header + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


# -- round trip on the embedded sample -----------------------------------------------------------
@pytest.fixture(scope="module")
def sample_outcomes(sample_ingested: tuple[Any, Any]) -> pd.DataFrame:
    """The outcomes of the sample's experiment, from 01_ingest's canonical tables."""
    params, run = sample_ingested
    with Engine(threads=2) as eng:
        run.register(eng, "transactions", "events", "assignments")
        outcomes = experiment_outcomes(eng, as_of_date=params.as_of_date)
    # a segment with missing values, derived from the id (the sample's outcomes have none)
    number = outcomes["customer_id"].str[1:].astype(int)
    tiers = np.where(number % 3 == 0, None, np.where(number % 3 == 1, "gold", "silver"))
    outcomes["tier"] = pd.Series(tiers, index=outcomes.index, dtype=object)
    return outcomes


#: logical name -> the platform's column name in the export files
RENAMED = {
    "experiment_id": "Experiment",
    "customer_id": "User ID",
    "variant": "arm",
    "repurchase": "converted",
    "orders": "Orders",
    "net_revenue": "Spend (EUR)",
    "pre_spend": "pre spend",
    "tier": "Tier",
}
METRICS = ("repurchase", "orders", "net_revenue")
COVARIATES = {"net_revenue": "pre_spend"}


def _analysis(table: pd.DataFrame) -> pd.DataFrame:
    return analyze_experiment(
        table, metrics=list(METRICS), covariates=COVARIATES, segment_cols=["tier"]
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet"], ids=["csv-semicolon-decimal-comma", "parquet"])
def test_round_trip_gives_the_same_analysis(
    sample_outcomes: pd.DataFrame, tmp_path: Path, engine: Engine, fmt: str
) -> None:
    original = sample_outcomes[
        ["experiment_id", "customer_id", "variant", *METRICS, "pre_spend", "tier"]
    ]
    written = original.rename(columns=RENAMED)
    settings: dict[str, Any] = {"columns": RENAMED}
    if fmt == "csv":
        written["converted"] = np.where(written["converted"] == 1.0, "yes", "no")
        path = tmp_path / "platform_export.csv"
        written.to_csv(path, sep=";", decimal=",", index=False)
        settings |= {"delimiter": ";", "decimal_separator": ","}
        assert "yes" in path.read_text() and ";" in path.read_text()
    else:
        written["converted"] = written["converted"] == 1.0  # a boolean column
        written["Orders"] = written["Orders"].astype("int64")  # an integer column
        path = tmp_path / "platform_export.parquet"
        written.to_parquet(path, index=False)
    export = _read(
        path,
        engine,
        metrics=METRICS,
        covariates=tuple(COVARIATES.values()),
        segments=("tier",),
        **settings,
    )
    assert export.rejects.empty and export.rows_read == len(original)
    assert list(export.table.columns) == [*original.columns]
    for column in ("experiment_id", "customer_id", "variant"):
        assert export.table[column].dtype == original[column].dtype, column
    assert (export.table[[*METRICS, "pre_spend"]].dtypes == "float64").all()
    assert export.table["tier"].dtype == object
    assert export.table["tier"].isna().sum() == original["tier"].isna().sum() > 0
    expected_order = original.sort_values(["experiment_id", "customer_id"], ignore_index=True)
    pd.testing.assert_frame_equal(export.table, expected_order, check_exact=False, rtol=1e-12)
    # the key test: the analysis of the export equals the analysis of the outcomes
    pd.testing.assert_frame_equal(
        _analysis(export.table), _analysis(original), check_exact=False, rtol=1e-12
    )


# -- bad input, each path named in its message or reject --------------------------------------
def test_missing_required_column_names_file_column_and_columns_found(
    tmp_path: Path, engine: Engine
) -> None:
    path = _write(
        tmp_path / "ab.csv",
        "E1,C1,control,1,0",
        header="experiment_id,customer_id,variant,converted,spend\n",
    )
    with pytest.raises(SourceFileError) as info:
        _read(path, engine)
    message = str(info.value)
    assert message.startswith("ab.csv: ")
    assert "'pre_spend'" in message and "looked for column 'pre_spend'" in message
    assert "columns found: experiment_id, customer_id, variant, converted, spend" in message


def test_mapped_column_missing_names_the_mapping(tmp_path: Path, engine: Engine) -> None:
    path = _write(tmp_path / "ab.csv", "E1,C1,control,1,0,0,web")
    with pytest.raises(SourceFileError, match=r"ab\.csv: .*'variant'.*maps it to 'arm'.*found: "):
        _read(path, engine, columns={"variant": "arm"})


def test_wrong_delimiter_hint(tmp_path: Path, engine: Engine) -> None:
    path = _write(tmp_path / "ab.csv", "E1;C1;control;1;0;0;web", header=HEADER.replace(",", ";"))
    with pytest.raises(SourceFileError, match=r"ab\.csv: .*is the delimiter ';'"):
        _read(path, engine)


def test_unknown_mapping_key_is_a_config_error(tmp_path: Path, engine: Engine) -> None:
    path = _write(tmp_path / "ab.csv", "E1,C1,control,1,0,0,web")
    with pytest.raises(ConfigError, match=r"source\.experiment_export\.columns: .*'revenue'"):
        _read(path, engine, columns={"revenue": "spend"})


def test_not_a_number_is_rejected_with_file_and_row(tmp_path: Path, engine: Engine) -> None:
    path = _write(
        tmp_path / "ab.csv",
        "E1,C1,control,1,10.5,3,web",
        "E1,C2,treatment,0,abc,4,web",
        "E1,C3,treatment,0,2.25,inf,",
    )
    export = _read(path, engine)
    rejects = export.rejects
    assert rejects[["file", "source_row", "reason", "column"]].to_dict("records") == [
        {"file": "ab.csv", "source_row": 2, "reason": "not_a_number", "column": "spend"},
        {"file": "ab.csv", "source_row": 3, "reason": "not_a_number", "column": "pre_spend"},
    ]
    assert rejects["detail"][0].startswith("'abc' is not a number; expected a number such as 12.50")
    assert not rejects["detail"].str.contains("C2|C3").any()  # no customer id in details
    assert export.table["customer_id"].tolist() == ["C1"]
    assert export.table["spend"].tolist() == [10.5]


def test_missing_values_are_rejected_but_not_missing_segments(
    tmp_path: Path, engine: Engine
) -> None:
    path = _write(
        tmp_path / "ab.csv",
        "E1,C1,,1,10,3,web",  # variant empty
        "E1,C2,treatment,0,NULL,4,web",  # spend a null token
        "E1,,control,,,,",  # customer_id first: one reason per row
        "E1,C4,control,N/A,abc,1,",  # missing before not a number
        "E1,C5,control,0,1,1,  ",  # segment empty: kept as None
    )
    export = _read(path, engine)
    assert export.rejects[["source_row", "reason", "column"]].to_dict("records") == [
        {"source_row": 1, "reason": "missing_value", "column": "variant"},
        {"source_row": 2, "reason": "missing_value", "column": "spend"},
        {"source_row": 3, "reason": "missing_value", "column": "customer_id"},
        {"source_row": 4, "reason": "missing_value", "column": "converted"},
    ]
    assert export.rejects["detail"][0] == "variant is empty (column 'variant'); expected a value"
    assert export.table["customer_id"].tolist() == ["C5"]
    assert export.table["channel"].tolist() == [None]


def test_duplicate_identical_rows_keep_the_first(
    tmp_path: Path, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(
        tmp_path / "ab.csv",
        "E1,C1,control,1,10.5,3,web",
        "E1,C2,treatment,1,7,0,",
        "E1,C1,control,yes,10.50,3.0,web",  # the same values, spelled differently
        "E2,C1,treatment,0,0,3,web",  # another experiment: not a duplicate
        "E1,C1,control,1,10.5,3,web",
    )
    with caplog.at_level(logging.INFO, logger="crmlib.experiments.queries.export"):
        export = _read(path, engine)
    assert export.rejects[["source_row", "reason"]].to_dict("records") == [
        {"source_row": 3, "reason": "duplicate_row"},
        {"source_row": 5, "reason": "duplicate_row"},
    ]
    assert export.rejects["column"].isna().all()
    assert (
        export.rejects["detail"][0]
        == "identical to row 1 of ab.csv (kept); expected one row per customer"
    )
    assert export.table[["experiment_id", "customer_id"]].values.tolist() == [
        ["E1", "C1"],
        ["E1", "C2"],
        ["E2", "C1"],
    ]
    assert "2 rejected {'duplicate_row': 2}" in caplog.text
    assert "C1" not in caplog.text and "C2" not in caplog.text  # counts in the log, never ids
    assert export.notes == ("2 of 5 rows rejected (2 duplicate_row).",)


def test_conflicting_rows_are_all_rejected(tmp_path: Path, engine: Engine) -> None:
    path = _write(
        tmp_path / "ab.csv",
        "E1,C1,control,1,10.5,3,web",
        "E1,C2,treatment,1,7,0,",
        "E1,C1,treatment,1,10.5,3,web",  # another arm
        "E1,C1,control,1,10.5,3,web",  # a copy of row 1: the customer still conflicts
        "E1,C2,treatment,1,7,0,app",  # only the segment differs
    )
    export = _read(path, engine)
    assert export.rejects[["source_row", "reason"]].to_dict("records") == [
        {"source_row": r, "reason": "conflicting_rows"} for r in (1, 2, 3, 4, 5)
    ]
    assert export.rejects["detail"][0] == (
        "3 rows for one customer of experiment 'E1' with different values; "
        "expected one row per customer"
    )
    assert export.table.empty
    assert list(export.table.columns) == [
        "experiment_id", "customer_id", "variant", "converted", "spend", "pre_spend", "channel",
    ]  # fmt: skip


def test_without_experiment_id_the_file_is_one_experiment(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "spring_promo.csv"
    path.write_text(
        "customer_id;variant;converted;spend;pre_spend;channel\n"
        "C2;treatment;YES;1.234,50;7;web\n"
        "C1;control;No;0;12,5;\n",
        encoding="utf-8",
    )
    export = _read(path, engine, delimiter=";", decimal_separator=",")
    assert export.table["experiment_id"].tolist() == ["spring_promo", "spring_promo"]
    assert export.table["converted"].tolist() == [0.0, 1.0]  # No / YES, any case
    assert export.table["spend"].tolist() == [0.0, 1234.5]
    assert export.table["pre_spend"].tolist() == [12.5, 7.0]
    assert len(export.notes) == 1
    assert "no experiment_id column" in export.notes[0]
    assert "'spring_promo'" in export.notes[0]


def test_decimal_comma_rejects_a_decimal_point(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "ab.csv"
    path.write_text(
        "experiment_id;customer_id;variant;converted;spend;pre_spend\nE1;C1;control;0;12.50;1\n",
        encoding="utf-8",
    )
    export = _read(path, engine, segments=(), delimiter=";", decimal_separator=",")
    (detail,) = export.rejects["detail"]
    assert detail.startswith("'12.50' is not a number; expected a number with a decimal comma")


def test_glob_over_two_files(tmp_path: Path, engine: Engine) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    _write(folder / "part-1.csv", "E1,C1,control,1,10,3,web", "E1,C2,treatment,0,x,4,web")
    _write(
        folder / "part-2.csv",
        "E1,C3,treatment,1,5,0,app",
        "E1,C1,control,1,10,3,web",  # a copy of part-1's row 1
        header=HEADER.upper(),  # columns matched case-insensitively
    )
    export = _read(folder / "part-*.csv", engine)
    assert [Path(f).name for f in export.files] == ["part-1.csv", "part-2.csv"]
    assert export.rows_read == 4
    assert export.rejects[["file", "source_row", "reason"]].to_dict("records") == [
        {"file": "part-1.csv", "source_row": 2, "reason": "not_a_number"},
        {"file": "part-2.csv", "source_row": 2, "reason": "duplicate_row"},
    ]
    assert export.rejects["detail"][1].startswith("identical to row 1 of part-1.csv")
    assert export.table["customer_id"].tolist() == ["C1", "C3"]


def test_absent_segment_column_is_noted(tmp_path: Path, engine: Engine) -> None:
    path = _write(
        tmp_path / "ab.csv",
        "E1,C1,control,1,10,3",
        header="experiment_id,customer_id,variant,converted,spend,pre_spend\n",
    )
    export = _read(path, engine)
    assert export.table["channel"].tolist() == [None]
    assert export.notes == (
        "ab.csv has no column 'channel' for segment 'channel', so that segment is missing "
        "for all its rows.",
    )


def test_empty_file_and_header_only(tmp_path: Path, engine: Engine) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(SourceFileError, match=r"empty\.csv: file is empty"):
        _read(empty, engine)
    export = _read(_write(tmp_path / "header.csv"), engine)
    assert export.rows_read == 0 and export.table.empty and export.rejects.empty


def test_name_in_two_roles_is_a_config_error(tmp_path: Path, engine: Engine) -> None:
    path = _write(tmp_path / "ab.csv", "E1,C1,control,1,10,3,web")
    with pytest.raises(ConfigError, match="'channel' is both"):
        _read(path, engine, metrics=("channel",))
    with pytest.raises(ConfigError, match="'variant' is an id column"):
        _read(path, engine, metrics=("variant",))


def test_totals_that_do_not_reconcile_raise(
    tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "ab.csv", "E1,C1,control,1,10,3,web")
    real = export_module._count_rows
    monkeypatch.setattr(export_module, "_count_rows", lambda eng, relation: real(eng, relation) + 1)
    with pytest.raises(CheckFailed, match=r"ab\.csv: 2 rows read but 1 accepted and 0 rejected"):
        _read(path, engine)


# -- exports without an id column, and the header checked up front -------------------------------
def test_without_an_id_column_row_numbers_are_the_ids(tmp_path: Path, engine: Engine) -> None:
    path = _write(
        tmp_path / "promo.csv",
        "control,1,0,2,web",
        "treatment,1,12.5,0,app",
        "treatment,1,12.5,0,app",  # identical to the row above: another customer, not a copy
        "control,x,0,1,web",
        header="variant,converted,spend,pre_spend,channel\n",
    )
    export = _read(path, engine)
    assert sorted(export.table["customer_id"]) == ["1", "2", "3"]  # data rows 1-3 (row 4 rejected)
    assert export.rejects[["source_row", "reason"]].to_dict("records") == [
        {"source_row": 4, "reason": "not_a_number"}
    ]
    assert export.table["experiment_id"].unique().tolist() == ["promo"]
    (note,) = [note for note in export.notes if "customer id" in note]
    assert note.startswith(
        "promo.csv has no customer id column (looked for 'customer_id'), so each"
    )
    assert "row number" in note and "source.experiment_export.columns" in note
    assert "<" not in note  # Markdown would read <...> as an HTML tag


def test_without_id_columns_over_two_files_ids_name_the_file(
    tmp_path: Path, engine: Engine
) -> None:
    header = "variant,converted,spend,pre_spend\n"
    _write(tmp_path / "part-1.csv", "control,1,0,2", "treatment,0,3,1", header=header)
    _write(tmp_path / "part-2.csv", "treatment,1,5,0", header=header)
    export = _read(tmp_path / "part-*.csv", engine, segments=())
    assert sorted(export.table["customer_id"]) == ["1:1", "1:2", "2:1"]


def test_a_mapped_id_column_that_is_missing_is_an_error(tmp_path: Path, engine: Engine) -> None:
    path = _write(
        tmp_path / "ab.csv", "control,1,0,2", header="variant,converted,spend,pre_spend\n"
    )
    with pytest.raises(SourceFileError, match=r"ab\.csv: .*'customer_id'.*maps it to 'user'"):
        _read(path, engine, segments=(), columns={"customer_id": "user"})


def test_header_check_names_file_column_and_params_key(tmp_path: Path, engine: Engine) -> None:
    path = _write(tmp_path / "ab.csv", "control,1,2", header="variant,converted,pre_spend\n")
    params = _params(path)
    assert params.source.experiment_export is not None
    with pytest.raises(SourceFileError) as info:
        export_module.check_export_columns(
            params.source.experiment_export,
            params=params,
            engine=engine,
            metrics=["converted", "spend"],
            origins={"spend": "ab_test.guardrails"},
        )
    message = str(info.value)
    assert message.startswith(
        "ab.csv: required metric or covariate 'spend' (named in ab_test.guardrails)"
    )
    assert "looked for column 'spend'" in message and "columns found: variant, converted" in message


def test_an_optional_number_no_file_has_is_left_out_and_said(
    tmp_path: Path, engine: Engine
) -> None:
    path = _write(
        tmp_path / "ab.csv",
        "C1,control,1,0,2",
        header="customer_id,variant,converted,spend,pre_spend\n",
    )
    params = _params(path)
    assert params.source.experiment_export is not None
    export = read_experiment_export(
        params.source.experiment_export,
        params=params,
        engine=engine,
        metrics=["converted"],
        optional=["spend", "orders"],
        origins={"orders": "ab_test.ratio_metrics"},
    )
    assert list(export.table.columns) == [
        "experiment_id",
        "customer_id",
        "variant",
        "converted",
        "spend",
    ]
    assert (
        "ab.csv has no column 'orders', so 'orders' (named in ab_test.ratio_metrics) is not read."
        in export.notes
    )
