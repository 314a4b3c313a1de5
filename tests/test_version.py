"""The version is written in one place (engine.__version__); the package
metadata is read from it."""

from __future__ import annotations

from importlib import metadata

import engine
from tests.conftest import REPO

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


def test_pyproject_reads_the_version_from_the_engine():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "engine.__version__"
    }


def test_installed_metadata_agrees_with_the_source():
    assert metadata.version("xlt") == engine.__version__
