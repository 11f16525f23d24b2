"""Checks, one session each: tests, lint, typecheck, architecture, docs, package, bench."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "typecheck", "architecture", "docs", "tests"]

PYPROJECT = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))
PYTHONS = [
    c.rsplit("::", 1)[1].strip()
    for c in PYPROJECT["project"]["classifiers"]
    if c.startswith("Programming Language :: Python :: 3.")
]


def _install(session: nox.Session, *groups: str) -> None:
    session.install("pip>=25.1")
    args = [arg for group in groups for arg in ("--group", group)]
    session.install("-e", ".", *args)


@nox.session(python=PYTHONS[0])
def tests(session: nox.Session) -> None:
    _install(session, "test")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHONS[0])
def lint(session: nox.Session) -> None:
    _install(session, "lint")
    session.run("ruff", "check", "src", "tests", "bench", "examples", "noxfile.py")


@nox.session(python=PYTHONS[0])
def typecheck(session: nox.Session) -> None:
    _install(session, "typecheck")
    session.run("mypy")


@nox.session(python=PYTHONS[0])
def architecture(session: nox.Session) -> None:
    _install(session, "architecture")
    session.run("lint-imports")


@nox.session(python=PYTHONS[0])
def docs(session: nox.Session) -> None:
    """The API reference from the docstrings, into site/; any warning fails the build."""
    _install(session, "docs")
    session.run("mkdocs", "build", "--strict", *session.posargs)


@nox.session(python=PYTHONS[0])
def package(session: nox.Session) -> None:
    """Build the wheel and sdist, install the wheel with its dependencies into this clean session,
    and type-check the examples against it from outside the source tree."""
    session.install("build>=1.2", "mypy>=1.13")
    dist = Path(session.create_tmp()) / "dist"
    session.run("python", "-m", "build", "--outdir", str(dist))
    (wheel,) = dist.glob("musicconnect-*.whl")
    session.install(str(wheel))
    examples = Path("examples").resolve()
    outside = Path(session.create_tmp()).resolve()
    # Its own, empty mypy configuration: the project's would put src/ on the path.
    config = outside / "mypy.ini"
    config.write_text("[mypy]\n", encoding="utf-8")
    with session.chdir(outside):
        session.run("python", "-c", "import musicconnect; print(musicconnect.__file__)")
        session.run("mypy", "--config-file", str(config), "--strict", "--no-incremental", str(examples))


@nox.session(python=PYTHONS[0])
def bench(session: nox.Session) -> None:
    """Benchmarks print ratios against a baseline measured in the same run."""
    _install(session, "test")
    for script in sorted(Path("bench").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)


@nox.session(python=PYTHONS[0])
def stripe_live(session: nox.Session) -> None:
    """The Stripe adapter's smoke test against Stripe's test mode (STRIPE_API_KEY=sk_test_...)."""
    if not os.environ.get("STRIPE_API_KEY", "").startswith(("sk_test_", "rk_test_")):
        session.skip("set STRIPE_API_KEY to a Stripe test-mode key")
    _install(session, "test")
    session.run("pytest", "tests/live", *session.posargs)
