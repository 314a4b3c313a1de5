"""What a run records about where it ran: versions, git commit, host, device."""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from engine import __version__

# The packages whose versions change a score: seqeval 0.x and 1.x compute
# UD-POS / PAN-X F1 differently (1.x's default mode is the conlleval-style
# one), sacrebleu's BLEU depends on its version and tokenizer.
SCORING_PACKAGES = ("torch", "transformers", "datasets", "tokenizers", "numpy",
                    "seqeval", "sacrebleu", "safetensors")  # fmt: skip


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "xlt": __version__}
    for name in SCORING_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit() -> str | None:
    """The commit of the xlt source that runs, with '+dirty' for local changes."""
    source = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "") if commit else None


def host() -> str:
    return socket.gethostname()


def command_line() -> str:
    return " ".join(sys.argv)


def provenance(config, device: str, data: Mapping[str, str]) -> dict:
    """Everything a reader needs to trust (or reproduce) a run's numbers: xlt
    version and commit, the versions of the packages that compute them, the
    device and precision, the fingerprint of every data split read, and the
    resolved config."""
    return {
        "xlt": __version__,
        "git_commit": git_commit(),
        "versions": package_versions(),
        "device": device,
        "precision": config.precision,
        "data": dict(sorted(data.items())),
        "config": config.to_toml_dict(),
    }
