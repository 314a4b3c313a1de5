"""The command that installs one of xlt's optional extras (ray, serve,
tensorboard, mlflow, wandb), for the error that asks for it.

xlt is installed from its source folder (scripts/setup.sh: `pip install -e`),
not from a package index, so `pip install 'xlt[ray]'` would look for a
package that is not there: the hint names this interpreter's pip and this
source folder, which works whatever the virtual environment is called.
Light module: the TUI imports it.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent


def install_command(extra: str) -> str:
    """`python -m pip install -e '/src/xlt[extra]'` for a source install;
    `pip install 'xlt[extra]'` for xlt installed as a built package."""
    if (SOURCE / "pyproject.toml").is_file() and (SOURCE / "engine").is_dir():
        target = shlex.quote(f"{SOURCE}[{extra}]")
        return f"{shlex.quote(sys.executable)} -m pip install -e {target}"
    return f"pip install 'xlt[{extra}]'"
