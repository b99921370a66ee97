"""Which notebooks a run executes and with which Jupyter kernel."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from crmlib.config import section_for_notebook
from crmlib.errors import RunSetupError

__all__ = [
    "DEFAULT_KERNEL",
    "KERNEL_INSTALL_COMMAND",
    "discover_notebooks",
    "check_kernel",
]

#: The Jupyter kernel the notebooks declare and the runner uses by default.
DEFAULT_KERNEL = "crm-workbook"
#: How to register the kernel of the current environment (printed when it is missing).
KERNEL_INSTALL_COMMAND = "python -m ipykernel install --sys-prefix --name crm-workbook"

_NOTEBOOK_NAME = re.compile(r"^\d{2}_\w+\.ipynb$")


def discover_notebooks(notebooks_dir: str | os.PathLike[str]) -> list[Path]:
    """The numbered notebooks ``NN_<section>.ipynb`` of a folder, in order.

    Parameters
    ----------
    notebooks_dir : path-like
        Usually ``notebooks/``.

    Returns
    -------
    list of Path
        Absolute paths, sorted by name; each name maps to a params section.

    Raises
    ------
    RunSetupError
        The folder is missing or holds no numbered notebook.
    ConfigError
        A numbered notebook's name has no params section (e.g. ``08_foo.ipynb``).
    """
    folder = Path(notebooks_dir).resolve()
    if not folder.is_dir():
        raise RunSetupError(f"notebooks folder not found: {folder}")
    notebooks = sorted(p for p in folder.iterdir() if p.is_file() and _NOTEBOOK_NAME.match(p.name))
    if not notebooks:
        raise RunSetupError(f"no numbered notebooks (NN_<section>.ipynb) in {folder}")
    for path in notebooks:
        section_for_notebook(path.name)
    return notebooks


def _select(notebooks: Sequence[Path], name: str, flag: str) -> int:
    """Position of the notebook a user named as ``02_kpis``, ``02_kpis.ipynb`` or ``02``."""
    wanted = Path(name).name.removesuffix(".ipynb")
    for position, path in enumerate(notebooks):
        if wanted in (path.stem, path.stem.partition("_")[0]):
            return position
    choices = ", ".join(p.stem for p in notebooks)
    raise RunSetupError(f"{flag} {name}: no such notebook; expected one of {choices}")


def check_kernel(kernel_name: str) -> Path:
    """Check that a Jupyter kernelspec is installed; return its folder.

    Raises
    ------
    RunSetupError
        The kernel is not installed; the message gives the command that installs it.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        command = (
            KERNEL_INSTALL_COMMAND
            if kernel_name == DEFAULT_KERNEL
            else f"python -m ipykernel install --sys-prefix --name {kernel_name}"
        )
        raise RunSetupError(
            f"Jupyter kernel '{kernel_name}' is not installed. Register it from the project's "
            f"environment with:\n    {command}"
        ) from None
    return Path(spec.resource_dir)
