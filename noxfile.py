"""The test matrix, one cell at a time: ``nox -l`` lists the cells, ``nox -s NAME`` runs one.

Each ``tests`` cell (a Python x a pinned Django) runs, in its own virtualenv under ``.nox/``:

1. lint: ``ruff check`` and ``ruff format --check``;
2. checks: migrations are up to date, the OpenAPI schema validates with no warning;
3. pytest on the embedded default (SQLite + local-memory cache);
4. pytest on PostgreSQL + Redis (TEST_DATABASE_URL, TEST_REDIS_URL);
5. the qrlogin-only variant (``tests.settings_qrlogin_only``: no ``qrlogin_accounts``).

``quick`` is one cell without the browser or the services (``make test-quick``). ``summary``
runs last and lists what ran and what was skipped, and why.

REQUIRE_SERVICES=1 (CI) makes every skip a failure: a missing Python, PostgreSQL or Redis,
Chromium or gettext. Without it a missing piece is skipped, said so at once and in the summary.
Arguments after ``--`` go to every pytest run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

DJANGO_LTS = "5.2"
DJANGO_NEWEST = "6.1"
# (Python, Django) cells: the oldest Python with the LTS, the newest with the newest Django
# (Django 6 needs Python 3.12 or newer). Two cells keep `make test` (and CI) within half an
# hour on a 2-core machine; add a cell here to widen the matrix.
CELLS = [("3.11", DJANGO_LTS), ("3.13", DJANGO_NEWEST)]

nox.options.sessions = ["tests", "summary"]
nox.options.reuse_venv = "yes"
nox.options.download_python = "never"
nox.options.error_on_missing_interpreters = REQUIRE_SERVICES

# What each session did, for the summary (nox runs every session in this one process):
# (cell, step, outcome, why), outcome one of RAN, SKIPPED, FAILED, LEFT_OUT (by choice).
RAN, SKIPPED, FAILED, LEFT_OUT = "ran", "SKIPPED", "FAILED", "left out"
RESULTS: list[tuple[str, str, str, str]] = []


def _runs(python: str, version: str) -> bool:
    try:
        out = subprocess.run(  # noqa: S603  (an interpreter found on this machine)
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out == version


def _find_python(version: str) -> str | None:
    """An interpreter of this version that really runs (a pyenv shim on PATH may not)."""
    env_name = f"PYTHON_{version.replace('.', '_')}"  # e.g. PYTHON_3_13=/opt/py/bin/python
    home = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [
        os.environ.get(env_name),
        shutil.which(f"python{version}"),
        *sorted(map(str, home.glob(f"versions/{version}.*/bin/python")), reverse=True),
        shutil.which("python3"),
    ]
    return next((c for c in candidates if c and _runs(c, version)), None)


def _expose_pythons() -> None:
    """Put ``pythonX.Y`` links to the interpreters found first on PATH, where nox looks."""
    links = ROOT / ".nox" / "bin"
    links.mkdir(parents=True, exist_ok=True)
    for version in sorted({python for python, _ in CELLS}):
        link = links / f"python{version}"
        link.unlink(missing_ok=True)
        if found := _find_python(version):
            link.symlink_to(found)
    os.environ["PATH"] = f"{links}{os.pathsep}{os.environ.get('PATH', '')}"


_expose_pythons()


def _django_pin(version: str) -> str:
    major, minor = version.split(".")
    return f"django>={version},<{major}.{int(minor) + 1}"


def _install(session: nox.Session, django: str) -> None:
    session.install("-e", ".[test]", _django_pin(django))


def _record(session: nox.Session, step: str, outcome: str, why: str = "") -> None:
    RESULTS.append((session.name, step, outcome, why))


def _step(
    session: nox.Session,
    step: str,
    *commands: list[str],
    env: dict | None = None,
    success_codes: list[int] | None = None,
) -> None:
    """Run the commands of one step; a failure is recorded, then fails the session."""
    session.log(f"==> {step}")
    try:
        for command in commands:
            session.run(*command, env=env or {}, success_codes=success_codes)
    except nox.command.CommandFailed:
        _record(session, step, FAILED, "the cell stopped here")
        raise
    _record(session, step, RAN)


def _skip(session: nox.Session, step: str, why: str) -> None:
    """A part that cannot run here: a failure under REQUIRE_SERVICES=1, else a loud skip."""
    if REQUIRE_SERVICES:
        _record(session, step, FAILED, f"{why} (required: REQUIRE_SERVICES=1)")
        session.error(f"{step}: {why} (required: REQUIRE_SERVICES=1)")
    _record(session, step, SKIPPED, why)
    session.warn(f"!! skipped {step}: {why}")


# The demo's manage.py commands and the SQLite runs see no service URLs from the caller.
EMBEDDED = {"DATABASE_URL": None, "REDIS_URL": None}


def _lint_and_checks(session: nox.Session) -> None:
    _step(session, "lint", ["ruff", "check", "."], ["ruff", "format", "--check", "."])
    _step(
        session,
        "migrations and schema checks",
        ["python", "manage.py", "makemigrations", "--check", "--dry-run", "-v", "1"],
        [
            "python",
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            os.devnull,
        ],
        env=EMBEDDED,
    )


def _pytest(session: nox.Session, step: str, *args: str, env: dict) -> None:
    # With pytest arguments (say -k) a run may select no test (exit 5): not a failure then.
    codes = [0, 5] if session.posargs else [0]
    command = ["python", "-m", "pytest", "-p", "no:cacheprovider", *args]
    _step(session, step, command, env=env, success_codes=codes)


def _tools_env(session: nox.Session) -> dict:
    """The browser and gettext: required under REQUIRE_SERVICES=1, else the tests skip them."""
    env: dict = {}
    if REQUIRE_SERVICES:
        env |= {"QRLOGIN_REQUIRE_BROWSER": "1", "QRLOGIN_REQUIRE_GETTEXT": "1"}
    else:
        if not Path("/usr/bin/chromium").exists():
            _record(session, "browser tests", SKIPPED, "/usr/bin/chromium is not installed")
        if not shutil.which("msgmerge"):
            _record(session, "catalog tests", SKIPPED, "GNU gettext is not installed")
    return env


def _services(session: nox.Session) -> str | None:
    """None when PostgreSQL and Redis answer (a missing database is created), else why not."""
    out = session.run(
        "python",
        "scripts/services.py",
        TEST_DATABASE_URL,
        TEST_REDIS_URL,
        silent=True,
        success_codes=[0, 1],
    )
    verdict = json.loads(str(out).strip().splitlines()[-1])
    for line in verdict["notes"]:
        session.log(line)
    return verdict["problem"]


@nox.session
@nox.parametrize(("python", "django"), CELLS, ids=[f"{p}-django{d}" for p, d in CELLS])
def tests(session: nox.Session, django: str) -> None:
    """One cell: lint, checks, SQLite, PostgreSQL + Redis, qrlogin alone."""
    _install(session, django)
    session.run("python", "-c", "import sys, django; print(sys.version, django.__version__)")
    tools = _tools_env(session)
    _lint_and_checks(session)
    _pytest(session, "pytest: SQLite + local-memory cache", *session.posargs, env=EMBEDDED | tools)
    problem = _services(session)
    if problem:
        _skip(session, "pytest: PostgreSQL + Redis", problem)
    else:
        services = {"DATABASE_URL": TEST_DATABASE_URL, "REDIS_URL": TEST_REDIS_URL}
        _pytest(session, "pytest: PostgreSQL + Redis", *session.posargs, env=services | tools)
    _pytest(
        session,
        "pytest: qrlogin alone (tests.settings_qrlogin_only)",
        "--ds=tests.settings_qrlogin_only",
        "tests/qrlogin_only",
        *session.posargs,
        env=EMBEDDED | tools,
    )


@nox.session(python=CELLS[0][0])
def quick(session: nox.Session) -> None:
    """One cell in a few minutes: lint, checks, SQLite without the browser, qrlogin alone."""
    _install(session, DJANGO_LTS)
    _lint_and_checks(session)
    no_browser = ["-m", "not browser", *session.posargs]
    _pytest(session, "pytest: SQLite, no browser", *no_browser, env=EMBEDDED)
    _pytest(
        session,
        "pytest: qrlogin alone, no browser",
        "--ds=tests.settings_qrlogin_only",
        "tests/qrlogin_only",
        *no_browser,
        env=EMBEDDED,
    )
    _record(session, "browser tests, PostgreSQL + Redis, other cells", LEFT_OUT, "a quick run")


@nox.session(python=False)
def summary(session: nox.Session) -> None:
    """What ran and what was skipped; fails when anything failed, or was skipped under CI."""
    for python in sorted({python for python, _ in CELLS}):
        if not (ROOT / ".nox" / "bin" / f"python{python}").exists():
            RESULTS.append((f"Python {python}", "its cells", SKIPPED, "no such Python found"))
    if not RESULTS:
        session.error("no test step ran")
    width = max(len(cell) for cell, *_ in RESULTS)
    print("\n==== summary: what ran, what was skipped")
    for cell, step, outcome, why in RESULTS:
        print(f"  {cell:<{width}}  {outcome:<8}  {step}" + (f": {why}" if why else ""))
    failed = sum(outcome == FAILED for _, _, outcome, _ in RESULTS)
    skipped = sum(outcome == SKIPPED for _, _, outcome, _ in RESULTS)
    if failed:
        session.error(f"{failed} step(s) FAILED (listed above)")
    if skipped and REQUIRE_SERVICES:
        session.error(f"{skipped} part(s) SKIPPED, and REQUIRE_SERVICES=1 requires them")
    if skipped:
        print(f"==> every step that ran passed; {skipped} part(s) SKIPPED (listed above)")
    else:
        print("==> every step that was asked for ran and passed")
