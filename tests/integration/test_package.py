"""The release: ``python -m build`` makes a wheel and an sdist; the wheel installs into a fresh
virtualenv, imports, and type-checks the examples under mypy --strict against itself (not
against the source tree).

The fresh virtualenv borrows the dependencies already installed for the tests (a ``.pth`` line)
so this takes seconds, not the minute a download of every dependency takes; the wheel itself is
installed with ``--no-deps``. ``nox -s package`` does the same with a fully clean install.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Final

import pytest

pytestmark = pytest.mark.integration

ROOT: Final = Path(__file__).resolve().parents[2]


def _run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # Without isolation: the build backend is in the test environment, so no download.
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT, cwd=out)
    return out


def test_the_wheel_and_sdist_carry_the_typed_package(dist: Path) -> None:
    """One wheel and one sdist, versioned; the wheel holds py.typed and the public modules."""
    (wheel,) = dist.glob("musicconnect-*-py3-none-any.whl")
    assert len(list(dist.glob("musicconnect-*.tar.gz"))) == 1
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ("py.typed", "__init__.py", "platform.py", "testing.py", "settings.py"):
        assert f"musicconnect/{module}" in names, module
    assert not any(name.startswith(("tests/", "examples/")) for name in names)


def test_the_examples_type_check_strictly_against_the_installed_wheel(dist: Path, tmp_path: Path) -> None:
    """mypy --strict over examples/, with musicconnect resolved from the wheel in a fresh venv."""
    (wheel,) = dist.glob("musicconnect-*.whl")
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    purelib = Path(
        _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path).strip()
    )
    (purelib / "_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel, cwd=tmp_path)
    where = _run(
        python,
        "-c",
        "import musicconnect; print(musicconnect.__file__, musicconnect.__version__)",
        cwd=tmp_path,
    )
    assert where.startswith(str(purelib)), where  # the wheel, not the source tree

    project = tmp_path / "project"
    shutil.copytree(ROOT / "examples", project / "examples")
    # Its own, empty mypy configuration: the project's would put src/ on the path.
    (project / "mypy.ini").write_text("[mypy]\n", encoding="utf-8")
    _run(
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        project / "mypy.ini",
        "--strict",
        "--python-executable",
        python,
        "--cache-dir",
        tmp_path / "mypy-cache",
        "--no-incremental",
        "examples",
        cwd=project,
    )
    done = subprocess.run(
        [python, project / "examples" / "fan_journey.py"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_the_api_reference_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    """``mkdocs build --strict`` (what ``nox -s docs`` runs): every reference resolves."""
    _run(sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", tmp_path / "site", cwd=ROOT)
    assert (tmp_path / "site" / "reference" / "groups" / "index.html").exists()
