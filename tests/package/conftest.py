"""Fixtures for the package tests (tests/package): the .deb that `make package` built.

    make package-test                                  # builds the package, then runs these
    CONCERTD_DEB=path/to/concertd_X_arch.deb /usr/bin/python3 -m pytest tests/package -q

Without CONCERTD_DEB the newest build-package/concertd_*.deb is taken. Nothing is installed on
this machine: the package is read with dpkg-deb, checked with lintian, and unpacked into a
temporary root whose binary and config are started from there.
"""
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run(*cmd, timeout=120, check=True) -> subprocess.CompletedProcess:
    """A command to its end, output as text."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        pytest.fail(f"`{' '.join(map(str, cmd))}` exited {p.returncode}:\n{p.stdout}{p.stderr}", pytrace=False)
    return p


@pytest.fixture(scope="session")
def deb() -> Path:
    named = os.environ.get("CONCERTD_DEB")
    if named:
        path = Path(named)
    else:
        found = sorted((REPO / "build-package").glob("concertd_*.deb"), key=lambda p: p.stat().st_mtime)
        if not found:
            pytest.fail("no package: run `make package` (or set CONCERTD_DEB)", pytrace=False)
        path = found[-1]
    if not path.is_file():
        pytest.fail(f"CONCERTD_DEB={path}: no such file", pytrace=False)
    return path


@pytest.fixture(scope="session")
def root(deb, tmp_path_factory) -> Path:
    """The package's files unpacked under a temporary directory (dpkg-deb -x)."""
    d = tmp_path_factory.mktemp("root")
    run("dpkg-deb", "-x", deb, d)
    return d


@pytest.fixture(scope="session")
def control(deb, tmp_path_factory) -> Path:
    """The package's control files (control, md5sums, conffiles, maintainer scripts)."""
    d = tmp_path_factory.mktemp("control") / "DEBIAN"
    run("dpkg-deb", "-e", deb, d)
    return d
