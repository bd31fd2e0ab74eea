"""The lock file: what `scripts/setup` installs and what a Heroku build installs.

`uv lock --check` is the guard `.ci/run` (and `scripts/setup`) runs; these tests show it holds
for the committed files and catches a pyproject.toml that moved on without its lock. They run
offline: a lock that matches needs no index to be checked.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).parent / "uv"


def uv_lock_check(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(UV), "lock", "--check", "--offline", "--directory", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "UV_PYTHON_DOWNLOADS": "never", "HOME": str(project)},
    )


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", "uv.lock", ".python-version", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


@pytest.mark.skipif(not UV.exists(), reason="uv is installed by scripts/setup (dev extra)")
def test_the_lock_matches_pyproject(project_copy: Path) -> None:
    result = uv_lock_check(project_copy)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not UV.exists(), reason="uv is installed by scripts/setup (dev extra)")
def test_a_dependency_added_without_locking_is_caught(project_copy: Path) -> None:
    pyproject = project_copy / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace('"click>=8.1",', '"click>=8.1",\n    "six>=1.16",', 1))
    assert pyproject.read_text() != text
    assert uv_lock_check(project_copy).returncode != 0


def test_python_version_is_one_heroku_reads_and_the_project_accepts() -> None:
    version = (ROOT / ".python-version").read_text().strip()
    major_minor = version.split(".")
    assert len(major_minor) == 2  # "3.11": Heroku then takes the latest patch release
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert SpecifierSet(project["requires-python"]).contains(f"{version}.0")


def test_one_package_manager_file_for_heroku() -> None:
    """Heroku's Python buildpack refuses a push with several package manager files."""
    found = [
        name
        for name in ("requirements.txt", "Pipfile", "Pipfile.lock", "poetry.lock", "uv.lock")
        if (ROOT / name).exists()
    ]
    assert found == ["uv.lock"]
