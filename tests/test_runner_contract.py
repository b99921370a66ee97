"""The runner's exit-code contract, on broken notebooks run through the real runner.

Each fixture breaks the fake workbook's 02_kpis in one way papermill users get burnt by. Every
case: the documented exit code, the notebook and the committed cell (its number and first line)
named on stderr and in run.json, and the last good run byte-identical.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import (
    FAKE_NOTEBOOKS,
    REPO_ROOT,
    FakeProject,
    make_fake_project,
    run_cli,
    tree_digest,
    write_notebook,
)

from crmlib import cli

pytestmark = pytest.mark.slow

# (case, cell source, extra CLI arguments, ename in run.json)
BROKEN = [
    ("raise", 'raise ValueError("boom")', [], "ValueError"),
    ("sys.exit(0)", "import sys\nsys.exit(0)", [], "SystemExit"),
    ("sys.exit(1)", "import sys\nsys.exit(1)", [], "SystemExit"),
    ("raise SystemExit", "raise SystemExit", [], "SystemExit"),
    ("os._exit(0)", "import os\nos._exit(0)", [], "DeadKernelError"),
    ("self-SIGKILL", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", [],
     "DeadKernelError"),
    ("failing magic", "%this_magic_does_not_exist 1", [], "UsageError"),
    ("sleep beyond the timeout", "import time\ntime.sleep(600)", ["--cell-timeout", "3"],
     "CellTimeout"),
    ("memory beyond a limit",
     "import resource\nresource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
     "blob = bytearray(3 << 30)", [], "MemoryError"),
]  # fmt: skip


def _break_02(project: FakeProject, source: str) -> None:
    """02_kpis with ``source`` as its 4th cell (title, parameters, first code cell, this one)."""
    title, cells = FAKE_NOTEBOOKS["02_kpis"]
    write_notebook(
        project.notebooks / "02_kpis.ipynb",
        title=title,
        params_file=project.params_file,
        cells=[cells[0], (source, []), *cells[1:]],
    )


def _run_json(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("source", "extra", "ename"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_broken_cell_fails_named_and_keeps_the_good_run(
    project_with_good_run: FakeProject, source: str, extra: list[str], ename: str
) -> None:
    project = project_with_good_run
    before = tree_digest(project.run_dir)
    _break_02(project, source)
    started = time.monotonic()
    result = run_cli(project.args(*extra))
    assert result.code == cli.EXIT_FAILED, result.stdout + result.stderr
    first_line = source.splitlines()[0]
    assert f"FAILED: notebook 02_kpis, cell 4 `{first_line}`" in result.stderr
    assert re.search(rf"`{re.escape(first_line)}`( \(In \[\d+\]\))?: {ename}\b", result.stderr)
    assert tree_digest(project.run_dir) == before  # the last good run is untouched
    (failed,) = project.failed_dirs()
    record = _run_json(failed)
    assert record["status"] == "failed"
    assert record["failed"]["notebook"] == "02_kpis" and record["failed"]["ename"] == ename
    assert (record["failed"]["cell"], record["failed"]["cell_first_line"]) == (4, first_line)
    assert record["notebooks"]["02_kpis"]["status"] == "failed"
    assert record["notebooks"]["03_cohorts"]["status"] == "not run"
    if "--cell-timeout" in extra:  # the limit + 30 s at most (kernel start included)
        assert time.monotonic() - started < 3 + 30 + 15


def test_missing_parameters_tag_is_refused_before_any_notebook(
    project_with_good_run: FakeProject,
) -> None:
    project = project_with_good_run
    before = tree_digest(project.run_dir)
    path = project.notebooks / "02_kpis.ipynb"
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        cell.get("metadata", {}).pop("tags", None)
    path.write_text(json.dumps(notebook), encoding="utf-8")
    result = run_cli(project.args())
    assert result.code == cli.EXIT_CONFIG
    assert "02_kpis.ipynb" in result.stderr and "no cell tagged 'parameters'" in result.stderr
    assert result.stdout == "" and not project.failed_dirs()
    assert tree_digest(project.run_dir) == before


def test_notebook_time_limit_names_the_cell_it_reached(fake_project: FakeProject) -> None:
    text = fake_project.params_file.read_text(encoding="utf-8")
    fake_project.params_file.write_text(
        text + "runner:\n  notebook_timeout_s: 4\n", encoding="utf-8"
    )
    _break_02(fake_project, "import time\ntime.sleep(600)")
    result = run_cli(fake_project.args())
    assert result.code == cli.EXIT_FAILED
    assert "notebook 02_kpis, cell 4 `import time`: CellTimeout" in result.stderr
    assert "runner.notebook_timeout_s" in result.stderr


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").is_dir() and "Z" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return ""


def test_killed_runner_leaves_no_kernel_and_its_build_is_kept(tmp_path: Path) -> None:
    """SIGKILL the runner mid-cell: its kernel dies with it; the next run keeps the build as
    ``fake.failed-<stamp>`` (status killed, the cell named) and removes the connection file."""
    project = make_fake_project(tmp_path / "project")
    pid_file = tmp_path / "kernel.pid"
    _break_02(project, f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
                       "time.sleep(600)")  # fmt: skip
    runner = subprocess.Popen(
        [sys.executable, "-m", "crmlib.cli", *project.args()],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not pid_file.is_file() or not pid_file.read_text():
            assert runner.poll() is None and time.monotonic() < deadline, "the cell never started"
            time.sleep(0.1)
        kernel = int(pid_file.read_text())
        assert _alive(kernel)
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
    deadline = time.monotonic() + 15
    while _alive(kernel):
        assert time.monotonic() < deadline, f"kernel {kernel} outlived its runner"
        time.sleep(0.1)
    from jupyter_core.paths import jupyter_runtime_dir

    pattern = f"kernel-crm-fake-{runner.pid}-*.json"
    assert list(Path(jupyter_runtime_dir()).glob(pattern))  # left behind by the SIGKILL
    (build,) = project.outputs.glob(".fake.building-*")
    assert _run_json(build)["current_cell"]["cell"] == 4

    _break_02(project, "x = 1")  # a good workbook again
    result = run_cli(project.args())
    assert result.code == cli.EXIT_OK, result.stderr
    (kept,) = project.failed_dirs()
    record = _run_json(kept)
    assert record["status"] == "killed" and record["failed"]["ename"] == "RunnerKilled"
    assert (record["failed"]["notebook"], record["failed"]["cell"]) == ("02_kpis", 4)
    assert record["failed"]["cell_first_line"] == "import os, time"
    assert not list(project.outputs.glob(".fake.building-*"))
    assert not list(Path(jupyter_runtime_dir()).glob(pattern))


# -- the README's exit codes are the CLI's -------------------------------------------------------
def test_readme_exit_codes_match_the_cli() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {
        int(code): name
        for code, name in re.findall(r"^\| (\d+) \| `(EXIT_[A-Z_]+)` \|", section, flags=re.M)
    }
    actual = {getattr(cli, name): name for name in dir(cli) if name.startswith("EXIT_")}
    assert documented == actual


# -- kernel hygiene: many runs from one process ----------------------------------------------------
def _kernels_of(pid: int) -> list[int]:
    """Live ipykernel processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().split(")")[-1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and b"ipykernel" in command and "Z" not in _state(int(entry.name)):
            found.append(int(entry.name))
    return found


def _rss_kib() -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, flags=re.M).group(1))  # type: ignore[union-attr]


def test_thirty_runs_from_one_process_leave_nothing_behind(tmp_path: Path) -> None:
    """crmlib.runner.run_notebooks 30 times in this process: no kernel left after any run,
    open file descriptors and RSS flat within 10% (after 5 warm-up runs)."""
    from crmlib.runner import run_notebooks

    project = make_fake_project(tmp_path / "project")
    for extra in ("02_kpis", "03_cohorts"):  # one notebook: the runner, not the stages, is measured
        (project.notebooks / f"{extra}.ipynb").unlink()
    fds, rss = [], []
    for number in range(30):
        result = run_notebooks(
            project.params_file, notebooks_dir=project.notebooks, outputs_dir=project.outputs
        )
        assert result.ok, result.failure
        assert _kernels_of(os.getpid()) == [], f"a kernel outlived run {number + 1}"
        fds.append(len(os.listdir("/proc/self/fd")))
        rss.append(_rss_kib())
    warm_fds, warm_rss = fds[4], rss[4]
    assert max(fds[5:]) <= warm_fds * 1.1, fds
    assert max(rss[5:]) <= warm_rss * 1.1, rss
