"""The next notebook's kernel, started while the current notebook runs.

A kernel takes one to two seconds to start, and a stage's imports (pandas, DuckDB, matplotlib,
scikit-learn, SciPy) one to two more; run one after the other that is a quarter of the sample
run. The runner therefore starts the kernel of the next notebook in the run, with that
notebook's imports, just before it executes the current one, and papermill then adopts the
running kernel (:func:`adopting`) instead of starting its own.

The early kernel is an ordinary one: the same kernel spec, working directory, log file and
parent-death signal as a kernel papermill starts (:func:`crmlib.runner._papermill.
_kernel_manager_with_log`). Its imports run as IPython start-up lines that bind no name in the
notebook's namespace and count no execution, so a notebook behaves exactly as in JupyterLab.
A kernel that is not used (the run failed or was interrupted first) is shut down.
"""

from __future__ import annotations

import ast
import json
import logging
import re
from pathlib import Path
from typing import Any

__all__ = ["EarlyKernel", "adopting", "notebook_imports", "warm_line"]

log = logging.getLogger(__name__)

#: ``crm.<module>`` in a notebook: the crmlib submodules it uses (``import crmlib as crm``).
_CRM_ATTRIBUTE = re.compile(r"\bcrm\.([a-z_]+)\b")


def _code_cells(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    return ["".join(cell.get("source", "")) for cell in cells if cell.get("cell_type") == "code"]


def notebook_imports(notebook: Path) -> list[str]:
    """The modules ``notebook`` imports, and the crmlib submodules it reaches through ``crm.``.

    Read from the code cells' top-level ``import`` statements (cells that are not plain Python,
    such as magics, are skipped) and their ``crm.<module>`` attributes, in first-use order.

    Examples
    --------
    >>> import tempfile
    >>> cell = {"cell_type": "code", "source": "import pandas as pd\\nimport crmlib as crm\\n"
    ...         "crm.kpis.kpis_by_period(x)"}
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "n.ipynb"
    ...     _ = path.write_text(json.dumps({"cells": [cell]}))
    ...     notebook_imports(path)
    ['pandas', 'crmlib', 'crmlib.kpis']
    """
    modules: list[str] = []
    for source in _code_cells(notebook):
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                modules.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.append(node.module)
        modules.extend(f"crmlib.{name}" for name in _CRM_ATTRIBUTE.findall(source))
    return list(dict.fromkeys(modules))


def warm_line(modules: list[str]) -> str:
    """One IPython line that imports ``modules`` and binds no name (a failure only logs).

    Examples
    --------
    >>> warm_line(["json", "crmlib.kpis"])
    "[__import__('importlib').import_module(m) for m in ('json', 'crmlib.kpis')];"
    """
    names = ", ".join(repr(name) for name in modules)
    return f"[__import__('importlib').import_module(m) for m in ({names}{',' if len(modules) == 1 else ''})];"


class EarlyKernel:
    """A kernel started ahead of its notebook; :meth:`close` shuts it down if never adopted.

    Parameters
    ----------
    notebook : Path
        The notebook the kernel is for (its folder is the kernel's working directory).
    kernel_manager_class : type
        The runner's kernel manager class for that notebook (log file, connection file).
    kernel_name : str
        The Jupyter kernel spec.
    """

    def __init__(self, notebook: Path, kernel_manager_class: type, kernel_name: str) -> None:
        from jupyter_core.utils import run_sync

        self.notebook = notebook
        self.adopted = False
        self.km: Any = kernel_manager_class(kernel_name=kernel_name)
        arguments = ["--HistoryManager.hist_file=:memory:"]  # as nbclient starts its kernels
        modules = notebook_imports(notebook)
        if modules:
            arguments.append(f"--IPKernelApp.exec_lines={warm_line(modules)}")
        run_sync(self.km.start_kernel)(cwd=str(notebook.parent), extra_arguments=arguments)

    def alive(self) -> bool:
        """Whether the kernel process is still running (it may have been killed meanwhile)."""
        from jupyter_core.utils import run_sync

        try:
            return bool(run_sync(self.km.is_alive)())
        except Exception:
            return False

    def close(self) -> None:
        """Shut the kernel down unless papermill adopted it (papermill then shuts it down)."""
        if self.adopted:
            return
        from jupyter_core.utils import run_sync

        try:
            run_sync(self.km.shutdown_kernel)(now=True)
        except Exception as exc:  # a kernel that already died is no reason to fail the run
            log.debug("could not shut down the early kernel of %s: %s", self.notebook.name, exc)


def adopting(early: EarlyKernel) -> type:
    """A kernel manager "class" papermill instantiates to get ``early``'s running kernel.

    nbclient creates its kernel manager from a class and starts a kernel only when the manager
    has none; constructing this class returns the early kernel's manager, which has one. nbclient
    then owns it as usual: it connects, runs the cells and shuts the kernel down.
    """
    km = early.km

    class _Adopted(type(km)):  # type: ignore[misc]
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:  # noqa: ARG004
            early.adopted = True
            return km  # not an instance of _Adopted: Python then skips __init__

    return _Adopted
