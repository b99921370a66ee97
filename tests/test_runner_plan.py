"""Stages declare their artifacts: the declarations match the code, and the runner checks them.

The declarations (:data:`crmlib.stages.STAGE_ARTIFACTS`) are held to the notebooks and the
crmlib functions they call with the run folder: every artifact name read or written there as a
string literal is declared, and every declared one is read or written. The runner refuses a
stage reading a later stage's artifact, and a partial run whose last good run lacks a required
artifact.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest
from conftest import REPO_ROOT, FakeProject, run_cli, tree_digest

import crmlib
from crmlib import runner
from crmlib.config import STAGE_SECTIONS, load_params, section_for_notebook
from crmlib.errors import RunSetupError, StageInputMissing
from crmlib.facts import FACT_TABLES
from crmlib.ingest import TABLES
from crmlib.io import ARTIFACT_PRODUCERS
from crmlib.stages import STAGE_ARTIFACTS, StageArtifacts, artifact_writers

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

# --- reading the code: which artifacts a notebook and the functions it calls touch ------------

#: RunFolder methods that name an artifact, and what the call does with it.
_METHODS: Mapping[str, str] = {
    "read_table": "required",
    "read_optional_table": "optional",
    "has_table": "guard",  # what follows reads the artifact only when present
    "read_previous_table": "previous",
    "read_json": "required",
    "write_table": "writes",
    "write_json": "writes",
    "path": "writes",  # crmlib.ingest's _Artifacts(run).path(name): written at the end
}

#: 01_ingest writes one artifact per configured contract table, and the shared purchase facts,
#: under a variable name.
_WRITTEN_BY_NAME_IN_A_VARIABLE: Mapping[str, frozenset[str]] = {
    "ingest": frozenset(TABLES) | frozenset(FACT_TABLES)
}


@dataclass
class Found:
    """Artifact name -> what the stage's code does with it (required, optional, ...)."""

    raw: dict[str, set[str]] = field(default_factory=dict)

    def add(self, name: str, kind: str) -> None:
        self.raw.setdefault(name, set()).add(kind)

    @property
    def uses(self) -> dict[str, set[str]]:
        """A read of an artifact the code checks with has_table first is optional."""
        return {
            name: (kinds - {"guard", "required"}) | {"optional"} if "guard" in kinds else kinds
            for name, kinds in self.raw.items()
        }

    def names(self, *kinds: str) -> set[str]:
        return {name for name, used in self.uses.items() if used & set(kinds)}


def _constants(node: ast.expr, bound: Mapping[str, Any]) -> list[str] | None:
    """The string(s) an argument stands for, when they are literals (or bound to literals)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name) and isinstance(bound.get(node.id), (str, tuple)):
        value = bound[node.id]
        return [value] if isinstance(value, str) else list(value)
    if isinstance(node, ast.Starred):
        return _constants(node.value, bound)
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [_constants(item, bound) for item in node.elts]
        if all(item is not None for item in items):
            return [text for item in items if item is not None for text in item]
    return None


class _Scanner:
    """Walks a notebook, following every call that is handed the run folder."""

    def __init__(self) -> None:
        self.found = Found()
        self._seen: set[tuple[str, str]] = set()

    def scan_notebook(self, path: Path) -> Found:
        cells = nbformat.read(path, as_version=4).cells
        source = "\n".join(cell.source for cell in cells if cell.cell_type == "code")
        tree = ast.parse(source)
        self._scan(tree.body, handles=set(), bound={}, resolve=self._notebook_callee)
        return self.found

    def _notebook_callee(self, node: ast.expr) -> Any:
        """``crm.<module>.<name>`` in a notebook -> the object."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.insert(0, node.attr)
            node = node.value
        if not (isinstance(node, ast.Name) and node.id == "crm" and parts):
            return None
        target: Any = crmlib
        for part in parts:
            target = getattr(target, part, None)
        return target

    def _scan_function(self, function: Callable[..., Any], call: ast.Call, handles: set[str],
                       bound: Mapping[str, Any]) -> None:  # fmt: skip
        """Scan a crmlib function called with the run folder, its parameters bound to the call."""
        definition = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
        assert isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef))
        arguments = definition.args
        positional = [a.arg for a in (*arguments.posonlyargs, *arguments.args)]
        passed: dict[str, ast.expr] = dict(zip(positional, call.args, strict=False))
        passed.update({k.arg: k.value for k in call.keywords if k.arg is not None})
        inner_handles = {
            name for name, value in passed.items()
            if isinstance(value, ast.Name) and value.id in handles
        }  # fmt: skip
        inner_bound: dict[str, Any] = {}
        for name, value in passed.items():
            literal = _constants(value, bound)
            if literal is not None:
                is_one = isinstance(value, ast.Constant) or (
                    isinstance(value, ast.Name) and isinstance(bound.get(value.id), str)
                )
                inner_bound[name] = literal[0] if is_one else tuple(literal)
        key = (f"{function.__module__}.{function.__qualname__}", repr(sorted(inner_bound.items())))
        if key in self._seen:
            return
        self._seen.add(key)
        namespace = function.__globals__

        def resolve(node: ast.expr) -> Any:
            return namespace.get(node.id) if isinstance(node, ast.Name) else None

        self._scan(definition.body, handles=inner_handles, bound=inner_bound, resolve=resolve)

    def _scan(self, body: list[ast.stmt], *, handles: set[str], bound: Mapping[str, Any],
              resolve: Callable[[ast.expr], Any]) -> None:  # fmt: skip
        handles, bound = set(handles), dict(bound)
        for node in _walk_in_order(body):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                self._assign(node.targets[0], node.value, handles, bound, resolve)
            if isinstance(node, ast.Call):
                self._call(node, handles, bound, resolve)

    def _assign(self, target: ast.expr, value: ast.expr, handles: set[str],
                bound: dict[str, Any], resolve: Callable[[ast.expr], Any]) -> None:  # fmt: skip
        if not isinstance(target, ast.Name):
            return
        literal = _constants(value, bound) if isinstance(value, (ast.Tuple, ast.List)) else None
        if literal is not None:
            bound[target.id] = tuple(literal)
        elif isinstance(value, ast.Call):
            callee = value.func
            name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", "")
            run_folder = name == "RunFolder"
            wraps_run = inspect.isclass(resolve(callee)) and any(
                isinstance(arg, ast.Name) and arg.id in handles for arg in value.args
            )  # e.g. _Artifacts(run)
            if run_folder or wraps_run:
                handles.add(target.id)

    def _call(self, node: ast.Call, handles: set[str], bound: Mapping[str, Any],
              resolve: Callable[[ast.expr], Any]) -> None:  # fmt: skip
        callee = node.func
        if (
            isinstance(callee, ast.Attribute)
            and isinstance(callee.value, ast.Name)
            and callee.value.id in handles
        ):
            kind = _METHODS.get(callee.attr)
            if callee.attr == "register":
                optional = any(
                    k.arg == "optional" and isinstance(k.value, ast.Constant) and k.value.value
                    for k in node.keywords
                )
                kind = "optional" if optional else "required"
                names = [n for arg in node.args[1:] for n in (_constants(arg, bound) or [])]
            elif kind is not None and node.args:
                names = _constants(node.args[0], bound) or []
            else:
                names = []
            suffix = ".json" if callee.attr in ("write_json", "read_json") else ""
            for name in names:
                self.found.add(name + suffix, kind or "")
            return
        handed = [a for a in (*node.args, *(k.value for k in node.keywords))
                  if isinstance(a, ast.Name) and a.id in handles]  # fmt: skip
        function = resolve(callee)
        if handed and inspect.isfunction(function) and function.__module__.startswith("crmlib"):
            self._scan_function(function, node, handles, bound)


def _walk_in_order(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every node of ``body``, statements in order (assignments seen before later calls)."""
    for statement in body:
        yield from ast.walk(statement)


def _found(notebook: Path) -> Found:
    return _Scanner().scan_notebook(notebook)


# --- (a) the declarations are complete and true -------------------------------------------------


def test_every_stage_is_declared_with_its_notebook() -> None:
    assert tuple(STAGE_ARTIFACTS) == STAGE_SECTIONS
    assert [STAGE_ARTIFACTS[section_for_notebook(p.name)].notebook for p in NOTEBOOKS] == [
        p.stem for p in NOTEBOOKS
    ]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_declaration_matches_what_the_code_reads_and_writes(notebook: Path) -> None:
    section = section_for_notebook(notebook.name)
    declared = STAGE_ARTIFACTS[section]
    found = _found(notebook)
    writes = found.names("writes") | _WRITTEN_BY_NAME_IN_A_VARIABLE.get(section, frozenset())
    assert writes == set(declared.writes), "writes"
    assert found.names("previous") == set(declared.previous), "previous"
    others = {name: uses for name, uses in found.uses.items() if name not in declared.writes}
    assert set(others) == set(declared.inputs), "read in the code, or declared as a read"
    for name, uses in others.items():
        if "optional" not in uses:
            assert name in declared.reads, f"{name}: always read, declared optional"
        elif "required" not in uses:
            assert name in declared.optional, f"{name}: read only when present, declared required"
        # required on one path and optional on another (07's transactions: required unless the
        # input is an export, crmlib.runner.required_artifacts): declared either way


def test_the_scanner_sees_reads_through_crmlib_functions() -> None:
    # 06 reads clv and rfm with run.read_optional_table; 05 reads rfm in crm.clv.value_groups;
    # 04 reads its previous rfm in baseline_membership; 01 writes through _Artifacts(run)
    churn = _found(REPO_ROOT / "notebooks" / "06_churn.ipynb")
    assert churn.uses["clv"] == {"optional"} and churn.uses["rfm"] == {"optional"}
    assert _found(REPO_ROOT / "notebooks" / "05_clv.ipynb").uses["rfm"] == {"optional"}
    segments = _found(REPO_ROOT / "notebooks" / "04_segments.ipynb")
    assert segments.uses["rfm"] == {"previous", "writes"} and "clv" not in segments.uses
    ingest = _found(REPO_ROOT / "notebooks" / "01_ingest.ipynb")
    assert {"transactions", "unattributed", "rejects", "quality.json"} <= ingest.names("writes")


def test_io_names_the_declared_writer_of_a_missing_table(tmp_path: Path) -> None:
    assert ARTIFACT_PRODUCERS["clv"] == "05_clv" and ARTIFACT_PRODUCERS["rfm"] == "04_segments"
    assert "quality.json" not in ARTIFACT_PRODUCERS
    from crmlib.io import RunFolder

    with pytest.raises(StageInputMissing, match="run notebook 04_segments first"):
        RunFolder(tmp_path).read_table("rfm")
    with pytest.raises(StageInputMissing, match="run 01_ingest first"):
        RunFolder(tmp_path).read_json("quality")


# --- (b) no stage reads a later stage's artifact --------------------------------------------------


def test_no_stage_reads_a_later_stages_artifact() -> None:
    order = [section_for_notebook(p.name) for p in NOTEBOOKS]
    writers = artifact_writers()
    for position, section in enumerate(order):
        for name in STAGE_ARTIFACTS[section].inputs:
            assert order.index(writers[name]) < position, (section, name)
    runner.check_stage_order(order)  # the runner's own check agrees
    assert "clv" not in STAGE_ARTIFACTS["segments"].inputs  # the loop 04 <- 05 is gone


# --- (c) a forward read is refused -----------------------------------------------------------------

_FORWARD = {
    "ingest": StageArtifacts("01_ingest", writes=("transactions",)),
    "segments": StageArtifacts(
        "04_segments", reads=("transactions",), optional=("clv",), writes=("rfm",)
    ),
    "clv": StageArtifacts("05_clv", reads=("transactions",), optional=("rfm",), writes=("clv",)),
}


@pytest.mark.parametrize(
    ("declarations", "message"),
    [
        (_FORWARD, "04_segments reads artifact 'clv', which 05_clv writes after it"),
        ({**_FORWARD, "clv": dataclasses.replace(_FORWARD["clv"], writes=("clv", "rfm"))},
         "artifact 'rfm' is written by both 04_segments and 05_clv"),
        ({"segments": StageArtifacts("04_segments", reads=("orders",))},
         "04_segments reads artifact 'orders', which no stage writes"),
        ({"segments": StageArtifacts("04_segments", reads=("rfm",), writes=("rfm",))},
         "04_segments reads artifact 'rfm', which it writes itself"),
        ({"segments": StageArtifacts("04_segments", previous=("clv",))},
         "04_segments reads the last good run's 'clv', which it does not write"),
    ],
    ids=["later-stage", "two-writers", "no-writer", "own-artifact", "previous-not-own"],
)  # fmt: skip
def test_bad_declarations_are_refused(
    declarations: dict[str, StageArtifacts], message: str
) -> None:
    with pytest.raises(RunSetupError, match=message) as raised:
        runner.check_stage_order(["ingest", "segments", "clv"], declarations)
    assert str(raised.value).startswith("stage order: ")


def test_the_planner_refuses_a_forward_read(
    fake_project: FakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    forward = {
        **STAGE_ARTIFACTS,
        "kpis": dataclasses.replace(STAGE_ARTIFACTS["kpis"], optional=("lifecycle",)),
    }
    monkeypatch.setattr("crmlib.runner._plan.STAGE_ARTIFACTS", forward)
    result = run_cli(fake_project.args())
    assert result.code == 2
    assert result.stderr.startswith(
        "Cannot start the run: stage order: 02_kpis reads artifact 'lifecycle', which "
        "03_cohorts writes after it; a stage reads only artifacts of earlier stages"
    )
    assert result.stdout == "" and not fake_project.outputs.exists()


# --- (d) a partial run needs the required artifacts in the last good run -------------------------


@pytest.mark.parametrize("flag", [["--only", "02_kpis"], ["--from", "03_cohorts"]],
                         ids=["only", "from"])  # fmt: skip
def test_partial_run_without_a_required_artifact_exits_2(
    project_with_good_run: FakeProject, flag: list[str]
) -> None:
    project = project_with_good_run
    (project.run_dir / "data" / "transactions.parquet").unlink()
    before = tree_digest(project.run_dir)
    result = run_cli(project.args(*flag))
    assert result.code == 2, result.stderr
    message = result.stderr
    assert message.startswith(f"Cannot start the run: {' '.join(flag)} reuses the artifacts of")
    stage = flag[1]
    assert (
        f"{stage} requires artifact 'transactions' (data/transactions.parquet), which 01_ingest "
        "writes" in message
    )
    assert "Run the whole workbook first, or rerun from 01_ingest (--from 01_ingest)" in message
    assert result.stdout == ""  # no notebook started
    assert tree_digest(project.run_dir) == before and not project.failed_dirs()


def test_partial_run_may_rerun_the_writer(project_with_good_run: FakeProject) -> None:
    # --from 01_ingest writes transactions again before 02 reads it: nothing to reuse
    project = project_with_good_run
    (project.run_dir / "data" / "transactions.parquet").unlink()
    result = run_cli(project.args("--from", "01_ingest"))
    assert result.code == 0, result.stderr
    assert (project.run_dir / "data" / "transactions.parquet").is_file()


def _workbook(*stems: str) -> list[Path]:
    return [Path(f"{stem}.ipynb") for stem in stems]


def test_check_artifacts(tmp_path: Path) -> None:
    params = load_params(REPO_ROOT / "params" / "default.yaml")
    notebooks = _workbook("01_ingest", "04_segments", "05_clv")
    runner.check_artifacts(params, notebooks, ["01_ingest", "04_segments", "05_clv"])
    with pytest.raises(RunSetupError, match=(
        "04_segments requires artifacts 'transactions', 'customer_days' and 'customer_facts', "
        "which 01_ingest writes, but 01_ingest does not run on this params file"
    )):  # fmt: skip
        runner.check_artifacts(params, notebooks, ["04_segments", "05_clv"])
    with pytest.raises(RunSetupError, match="the workbook has no 01_ingest notebook"):
        runner.check_artifacts(params, _workbook("05_clv"), ["05_clv"])
    last_good = tmp_path / "sample"
    with pytest.raises(StageInputMissing) as raised:
        runner.check_artifacts(params, notebooks, ["05_clv"], reuse=last_good, flag="--only 05_clv")
    assert str(raised.value) == (
        f"--only 05_clv reuses the artifacts of the last good run {last_good}, but it lacks "
        "what the selected notebooks require: 05_clv requires artifacts 'transactions' "
        "(data/transactions.parquet), 'customer_days' (data/customer_days.parquet) and "
        "'customer_facts' (data/customer_facts.parquet), which 01_ingest writes. Run the whole "
        "workbook first, or rerun from 01_ingest (--from 01_ingest)"
    )
    (last_good / "data").mkdir(parents=True)
    for name in ("transactions", "customer_days", "customer_facts"):
        pd.DataFrame({"customer_id": ["A"]}).to_parquet(last_good / "data" / f"{name}.parquet")
    # 05 reads 04's rfm only when present: an optional artifact is not demanded
    runner.check_artifacts(params, notebooks, ["05_clv"], reuse=last_good, flag="--only 05_clv")


def test_07_on_an_export_requires_nothing() -> None:
    default = load_params(REPO_ROOT / "params" / "default.yaml")
    export = load_params(REPO_ROOT / "params" / "ab_export_only.yaml")
    assert runner.required_artifacts(default, "ab_test") == ("transactions",)
    assert runner.required_artifacts(export, "ab_test") == ()
    assert runner.required_artifacts(default, "segments") == (
        "transactions",
        "customer_days",
        "customer_facts",
    )
    notebooks = runner.discover_notebooks(REPO_ROOT / "notebooks")
    plan = runner.plan_stages(export, notebooks)
    assert [stem for stem, reason in plan.items() if reason is None] == ["07_ab_test"]
    runner.check_artifacts(export, notebooks, ["07_ab_test"])  # 01 skipped: nothing demanded
    with pytest.raises(RunSetupError, match="07_ab_test requires artifact 'transactions'"):
        runner.check_artifacts(default, notebooks, ["07_ab_test"])


def test_stage_declarations_import_nothing_heavy() -> None:
    module = importlib.import_module("crmlib.stages")
    imported = {
        node.module
        for node in ast.walk(ast.parse(Path(module.__file__ or "").read_text("utf-8")))
        if isinstance(node, ast.ImportFrom)
    }
    assert imported <= {"__future__", "collections.abc", "dataclasses"}
