"""The sdist and the wheel as users get them: built for real with ``python -m build``, opened.

An editable install hides what the archives lack (a data file outside ``package_data``, a
subpackage ``find:`` does not see, the licence), so these tests read the archives themselves.
The build runs once per test run, in an isolated environment as a release build would.
"""

from __future__ import annotations

import email.message
import email.parser
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import trove_classifiers

import gqlws_sync

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "gqlws_sync"
#: One build is about 4 s here; the bound leaves room for fetching setuptools on a cold cache.
BUILD_TIMEOUT = 300.0
TWINE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Dists:
    sdist: Path
    wheel: Path

    def wheel_names(self) -> list[str]:
        with zipfile.ZipFile(self.wheel) as wheel:
            return wheel.namelist()

    def wheel_text(self, name: str) -> str:
        with zipfile.ZipFile(self.wheel) as wheel:
            return wheel.read(name).decode("utf-8")

    def sdist_names(self) -> list[str]:
        with tarfile.open(self.sdist) as sdist:
            return sdist.getnames()

    def sdist_text(self, name: str) -> str:
        with tarfile.open(self.sdist) as sdist:
            member = sdist.extractfile(name)
            assert member is not None, name
            return member.read().decode("utf-8")

    def metadata(self) -> email.message.Message:
        (name,) = [n for n in self.wheel_names() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(self.wheel_text(name))


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """The sdist, and the wheel that ``build`` makes from it (not from the checkout)."""
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return Dists(sdist, wheel)


def _prefix() -> str:
    return f"gqlws_sync-{gqlws_sync.__version__}"


def test_license_is_in_both_archives(dists: Dists) -> None:
    """The MIT licence text travels with the code, as its own terms require."""
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert license_text.startswith("MIT License\n")
    assert "Copyright (c) " in license_text
    assert "the gqlws_sync authors" in license_text
    assert dists.sdist_text(f"{_prefix()}/LICENSE") == license_text
    # Metadata 2.4 keeps it under licenses/; older setuptools beside METADATA.
    in_wheel = [
        name
        for name in dists.wheel_names()
        if name in (f"{_prefix()}.dist-info/licenses/LICENSE", f"{_prefix()}.dist-info/LICENSE")
    ]
    assert len(in_wheel) == 1, dists.wheel_names()
    assert dists.wheel_text(in_wheel[0]) == license_text


def test_wheel_holds_every_module_of_the_source_tree(dists: Dists) -> None:
    """Every .py file and py.typed under gqlws_sync/, the testing package included."""
    expected = {
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file()
        and (path.suffix == ".py" or path.name == "py.typed")
        and "__pycache__" not in path.parts
    }
    names = set(dists.wheel_names())
    assert expected <= names, sorted(expected - names)
    for name in (
        "gqlws_sync/py.typed",
        "gqlws_sync/testing/__init__.py",
        "gqlws_sync/testing/pytest_plugin.py",
        "gqlws_sync/_serve.py",
        "gqlws_sync/_demo.py",
    ):
        assert name in names
    # Only the package: no tests, benchmarks or examples at the top of site-packages.
    tops = {name.split("/")[0] for name in names}
    assert tops == {"gqlws_sync", f"{_prefix()}.dist-info"}


def test_sdist_holds_what_a_build_needs(dists: Dists) -> None:
    """The wheel is built from the sdist, so these must be in it (or the build fails)."""
    names = set(dists.sdist_names())
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE", "gqlws_sync/py.typed"):
        assert f"{_prefix()}/{name}" in names


def test_entry_points(dists: Dists) -> None:
    """The gqlws script and the pytest plugin are registered."""
    text = dists.wheel_text(f"{_prefix()}.dist-info/entry_points.txt")
    assert "gqlws = gqlws_sync.cli:main" in text
    assert "gqlws_sync = gqlws_sync.testing.pytest_plugin" in text


def test_classifiers_are_valid_and_complete(dists: Dists) -> None:
    """Every classifier is one PyPI accepts, and those a user filters by are there."""
    classifiers = dists.metadata().get_all("Classifier") or []
    unknown = [c for c in classifiers if c not in trove_classifiers.classifiers]
    assert not unknown
    for wanted in (
        "Intended Audience :: Developers",
        "License :: OSI Approved :: MIT License",
        "Operating System :: OS Independent",
        "Typing :: Typed",
    ):
        assert wanted in classifiers
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    assert any(c.startswith("Topic :: ") for c in classifiers)
    versions = [c.rsplit(" :: ", 1)[1] for c in classifiers if c.count(".") == 1]
    assert versions == ["3.10", "3.11", "3.12", "3.13"]
    assert dists.metadata()["Requires-Python"] == ">=3.10"


def test_metadata_names_the_project(dists: Dists) -> None:
    """Version, licence and links, as PyPI shows them."""
    metadata = dists.metadata()
    assert metadata["Name"] == "gqlws_sync"
    assert metadata["Version"] == gqlws_sync.__version__
    assert metadata["License"] == "MIT"
    assert metadata["License-File"] == "LICENSE"
    urls = dict(entry.split(", ", 1) for entry in metadata.get_all("Project-URL") or [])
    assert {"Source", "Changelog", "Bug Tracker"} <= urls.keys()
    assert metadata["Description-Content-Type"] == "text/markdown"


def _extras(metadata: email.message.Message) -> dict[str, set[str]]:
    """Each extra and the names of the distributions it adds."""
    extras: dict[str, set[str]] = {name: set() for name in metadata.get_all("Provides-Extra") or []}
    for requirement in metadata.get_all("Requires-Dist") or []:
        spec, _, marker = requirement.partition(";")
        if "extra ==" not in marker:
            continue
        extra = marker.split("extra ==")[1].strip().strip("'\"")
        name = spec.strip().split("[")[0]
        for stop in "<>=!~ ":
            name = name.split(stop)[0]
        extras[extra].add(name.lower())
    return extras


def test_extras(dists: Dists) -> None:
    """Users' extras stay small; linters stay out of what running the tests needs."""
    extras = _extras(dists.metadata())
    assert extras["server"] == {"websockets", "trustme"}
    assert extras["fast"] == extras["orjson"] == {"orjson"}
    assert extras["gql"] == {"gql"}
    assert extras["dev"] == {"ruff", "mypy"}
    assert extras["bench"] == {"websockets", "gql", "orjson", "matplotlib"}
    test = extras["test"]
    assert not test & {"ruff", "mypy"}
    assert extras["server"] <= test
    for name in ("pytest", "pytest-timeout", "build", "twine", "playwright", "django", "flask"):
        assert name in test


def test_twine_check_passes(dists: Dists) -> None:
    """The metadata and the README render as PyPI would take them."""
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(dists.sdist), str(dists.wheel)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TWINE_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2
