"""Kernels started early (crmlib.runner._warm): adopted by papermill, warm, clean, never leaked."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
from conftest import FakeProject, write_notebook

from crmlib.runner import DEFAULT_KERNEL, run_notebooks
from crmlib.runner._papermill import ExitingKernels, _kernel_manager_with_log, _papermill_execute
from crmlib.runner._warm import EarlyKernel, adopting, notebook_imports

REPO_ROOT = Path(__file__).resolve().parents[1]

#: What a notebook sees at its first cell: its process, whether crmlib.kpis is loaded, its names.
_PROBE = """\
import os, sys
print(json.dumps([os.getpid(), "crmlib.kpis" in sys.modules,
                  sorted(n for n in dir() if not n.startswith("_"))]))
"""


def _probe_notebook(folder: Path, project: FakeProject) -> Path:
    return write_notebook(
        folder / "02_kpis.ipynb",
        title="Probe",
        params_file=project.params_file,
        cells=[("import json", []), (_PROBE, []), ("import crmlib as crm\ncrm.kpis", [])],
    )


def _run(notebook: Path, output: Path, manager: type) -> None:
    _papermill_execute(
        notebook,
        output,
        parameters={},
        kernel_name=DEFAULT_KERNEL,
        cwd=notebook.parent,
        kernel_manager_class=manager,
        start_timeout=60,
        execution_timeout=60,
    )


def _execute(notebook: Path, output: Path, manager: type) -> tuple[int, bool, list[str], list]:
    _run(notebook, output, manager)
    cells = [c for c in json.loads(output.read_text())["cells"] if c["cell_type"] == "code"]
    pid, warm, names = json.loads("".join(cells[-2]["outputs"][0]["text"]))
    return pid, warm, names, [c["execution_count"] for c in cells]


def _gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.1)
    return False


def test_notebook_imports_of_the_real_notebooks() -> None:
    modules = notebook_imports(REPO_ROOT / "notebooks" / "06_churn.ipynb")
    assert modules[:3] == ["matplotlib.pyplot", "IPython.display", "crmlib"]
    assert {"crmlib.churn", "crmlib.config", "crmlib.io", "crmlib.engine"} <= set(modules)
    assert not any(m.startswith("crmlib.") and m.count(".") > 1 for m in modules)


def test_adopted_kernel_is_warm_and_the_notebook_sees_what_a_fresh_kernel_shows(
    tmp_path: Path, fake_project: FakeProject
) -> None:
    notebook = _probe_notebook(tmp_path / "nb", fake_project)
    log = tmp_path / "early.kernel.log"
    fresh_pid, fresh_warm, fresh_names, fresh_counts = _execute(
        notebook, tmp_path / "fresh.ipynb", _kernel_manager_with_log(log)
    )
    early = EarlyKernel(notebook, _kernel_manager_with_log(log), DEFAULT_KERNEL)
    early_pid = early.km.provisioner.pid
    pid, warm, names, counts = _execute(notebook, tmp_path / "early.ipynb", adopting(early))

    assert early.adopted and pid == early_pid != fresh_pid
    assert warm and not fresh_warm  # crmlib.kpis was imported before the first cell ran
    assert names == fresh_names  # the start-up line bound no name
    assert counts == fresh_counts  # and counted no execution
    assert _gone(early_pid)  # papermill shut the adopted kernel down
    early.close()  # a no-op once adopted
    assert "Traceback" not in log.read_text()


def test_an_early_kernel_not_adopted_is_shut_down(
    tmp_path: Path, fake_project: FakeProject
) -> None:
    notebook = _probe_notebook(tmp_path / "nb", fake_project)
    early = EarlyKernel(notebook, _kernel_manager_with_log(tmp_path / "k.log"), DEFAULT_KERNEL)
    pid = early.km.provisioner.pid
    assert early.alive()
    early.close()
    assert _gone(pid) and not early.alive()


def test_a_failed_run_leaves_no_kernel_behind(fake_project: FakeProject) -> None:
    """01 fails while 02's kernel is already starting: that kernel is shut down too."""
    fake_project.make_failing("01_ingest", after=0)
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    result = run_notebooks(
        fake_project.params_file,
        notebooks_dir=fake_project.notebooks,
        outputs_dir=fake_project.outputs,
    )
    assert result.status == "failed" and result.failure.notebook == "01_ingest"
    left = [
        child
        for child in psutil.Process().children(recursive=True)
        if child.pid not in before and not _gone(child.pid)
    ]
    assert not left, [child.cmdline() for child in left]


def test_a_finished_kernel_exits_in_the_background_gracefully_and_join_waits_for_it(
    tmp_path: Path, fake_project: FakeProject
) -> None:
    """papermill returns once the kernel is asked to exit; its exit handlers still run (the
    marker is written a second later, by atexit), and join() returns only when it is gone."""
    marker = tmp_path / "exited"
    notebook = write_notebook(
        tmp_path / "nb" / "02_kpis.ipynb",
        title="Slow exit",
        params_file=fake_project.params_file,
        cells=[
            (
                "import atexit, os, pathlib, time\n"
                f"atexit.register(lambda: (time.sleep(1.0), pathlib.Path({str(marker)!r}).write_text(str(os.getpid()))))",
                [],
            )
        ],
    )
    exiting = ExitingKernels()
    manager = _kernel_manager_with_log(tmp_path / "k.log", None, exiting)
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    _run(notebook, tmp_path / "out.ipynb", manager)
    kernels = [c for c in psutil.Process().children(recursive=True) if c.pid not in before]
    assert kernels and not marker.exists()  # papermill did not wait for the exit
    assert exiting.join() == 1 and exiting.join() == 0  # nothing left to wait for
    assert marker.read_text() == str(kernels[0].pid)  # a graceful exit: atexit ran
    assert not any(psutil.pid_exists(k.pid) for k in kernels)


def test_a_kernel_that_does_not_exit_is_terminated_then_killed() -> None:
    exiting = ExitingKernels()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
    exiting.follow(sleeper, 0.4)
    exiting.follow(stubborn, 0.4)
    assert exiting.join() == 2
    stubborn.stdout.close()
    assert (sleeper.returncode, stubborn.returncode) == (-15, -9)
