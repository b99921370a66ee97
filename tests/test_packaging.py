"""Packaging: one source of dependencies, exact pins, environment.yml in step, README commands."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"python-duckdb": "duckdb"}  # conda-forge name -> PyPI name


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _declared_packages() -> set[str]:
    project = _pyproject()["project"]
    return {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[_name(name)] = version
    return pins


def test_every_dependency_is_pinned_exactly():
    pins = _pins()
    missing = _declared_packages() - set(pins)
    assert not missing, f"constraints.txt lacks pins for {sorted(missing)}: run `make lock`"


def test_environment_yml_names_the_same_packages_at_the_same_versions():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    named: dict[str, str] = {}
    for entry in environment["dependencies"]:
        items = entry["pip"] if isinstance(entry, dict) else [entry]
        for item in items:
            if item.startswith("-e") or item in {"pip", "python=3.11"}:
                continue
            parts = re.split(r"==|=", item)
            name, version = CONDA_NAMES.get(parts[0].lower(), parts[0].lower()), parts[1]
            named[name.replace("_", "-")] = version
    assert set(named) == _declared_packages()
    pins = _pins()
    assert {name: pins[name] for name in named} == named


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme, re.S)
    assert first_block is not None
    assert first_block.group(1).split() == ["make", "report", "make", "test"]


def test_ci_runs_make_test():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", script, re.M)
