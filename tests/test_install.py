"""The package stands on its own: what the commands read ships inside it, and a built wheel works anywhere.

The wheel is built from a copy of the checkout without build isolation (offline: the dev extra brings
setuptools), installed with no dependencies into a fresh virtual environment that sees the project
environment's packages only through a `.pth` line, and run from an empty folder, so nothing can be found
relative to the checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from conformance import cddl, data
from conformance.vectors import load_vectors

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SKIPPED_WHEN_COPYING = shutil.ignore_patterns(
    ".venv", ".git", ".tox", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", ".benchmarks",
    "node_modules",
    "*.so",  # the editable install's build of the native scanner: the wheel must compile its own
)


# --------------------------------------------------------------------------------------------------
# The data the commands need is found through the package, and is what the checkout holds.


def test_vectors_and_cddl_come_from_the_repository_folders() -> None:
    """Editable install: the data subpackages are the checkout's top-level `vectors/` and `spec/cddl/`."""
    assert data.vectors_dir().resolve() == REPO / "vectors"
    assert data.cddl_dir().resolve() == REPO / "spec" / "cddl"
    assert data.templates_dir().resolve() == REPO / "reports" / "templates"


def test_the_vendored_cddl_is_every_file_its_provenance_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cddl.ENV_DIR, raising=False)
    folder = cddl.spec_dir()
    listed = set(re.findall(r"^\| `([^`]+\.cddl)`", (folder / "SOURCE.md").read_text(), re.MULTILINE))
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*.cddl")}
    assert len(listed) == 27
    assert present == listed


def test_a_folder_without_vectors_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.yaml").write_text("title: no vectors here\n")
    with pytest.raises(data.DataMissing, match="no golden vectors"):
        load_vectors(tmp_path)


def test_every_code_package_is_listed_for_the_wheel() -> None:
    """pyproject.toml lists its packages (the data ones are mapped); a package missing there is lost."""
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "conformance").rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    mapped = PYPROJECT["tool"]["setuptools"]["package-dir"]
    assert {mapped[p] for p in listed - found} == {"vectors", "spec/cddl", "reports", "peers/profiles", "peers/faulty"}


# --------------------------------------------------------------------------------------------------
# The wheel, in a fresh environment, from an empty folder.


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(REPO, source, ignore=SKIPPED_WHEN_COPYING)
    pip = (sys.executable, "-m", "pip")
    run(*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", str(source), "-w", str(work / "dist"))
    (built,) = (work / "dist").glob("ouroboros_conformance-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment holding only the wheel; the dependencies come from this environment by a .pth."""
    root = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", "--without-pip", str(root))
    python = root / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel))
    own = Path(run(str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip())
    outer = [p for p in sys.path if p.endswith("site-packages")]
    (own / "zz_project_dependencies.pth").write_text("\n".join(outer) + "\n")
    return root


def run(*args: str, cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", cddl.ENV_DIR, "VIRTUAL_ENV")}
    result = subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=300, check=False)
    assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr}"
    return result.stdout


def _files(folder: Path, installed_as: str) -> set[str]:
    """The files of a checkout folder (no caches), named as the wheel names them."""
    return {
        f"{installed_as}/{p.relative_to(folder).as_posix()}"
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_the_wheel_carries_every_file_the_commands_read(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = (
        _files(REPO / "conformance", "conformance")
        | _files(REPO / "vectors", "conformance/data/vectors")
        | _files(REPO / "spec" / "cddl", "conformance/data/cddl")
        | _files(REPO / "reports" / "templates", "conformance/data/reports/templates")
    )
    assert len(expected) > 100
    assert expected - names == set()


def test_the_installed_wheel_checks_every_vector_from_an_empty_folder(venv: Path, tmp_path: Path) -> None:
    where = run(str(venv / "bin" / "python"), "-c", "import conformance; print(conformance.__file__)", cwd=tmp_path)
    assert Path(where.strip()).resolve().is_relative_to(venv.resolve())  # the wheel's copy, not the checkout
    table = run(str(venv / "bin" / "ouroboros-conformance"), "vectors", "check", cwd=tmp_path)
    total = re.search(r"^total\s+(\d+)\s+(\d+)\s+(\d+)$", table, re.MULTILINE)
    assert total is not None, table
    assert int(total[1]) == len(load_vectors()) > 0
    assert (int(total[2]), int(total[3])) == (len(load_vectors()), 0)


def test_the_installed_wheel_has_the_native_scanner_where_a_compiler_is(venv: Path, tmp_path: Path) -> None:
    from test_cbor_native import _compiler_at_hand

    if not _compiler_at_hand():
        pytest.skip("no C compiler: the optional extension cannot be built here")
    code = "from conformance.wire.cbor import scan; print(scan.NATIVE, scan._native.item_end(b'\\x82\\x01\\x02'))"
    assert run(str(venv / "bin" / "python"), "-c", code, cwd=tmp_path).split() == ["True", "3"]


def test_the_installed_wheel_validates_against_the_vendored_cddl(venv: Path, tmp_path: Path) -> None:
    report = run(str(venv / "bin" / "python"), "-m", "conformance.cddl", "check", cwd=tmp_path)
    summary = re.search(r"^(\d+) of the (\d+) golden messages fail", report, re.MULTILINE)
    assert summary is not None, report
    failed, checked = int(summary[1]), int(summary[2])
    assert checked > 100
    assert len(re.findall(r"^accepts\s", report, re.MULTILINE)) == checked - failed


def test_the_installed_wheel_renders_a_report_from_its_own_templates(venv: Path, tmp_path: Path) -> None:
    from report.runfolder import record, write_run  # tests/report: run folders per the suite's contract

    folder = write_run(tmp_path / "run", "wheel", [record("t.py::t", "KA-COOKIE-01", "passed")])
    out = run(str(venv / "bin" / "ouroboros-conformance"), "report", str(folder), "--out", "out", cwd=tmp_path)
    assert "no MUST requirement failed" in out
    assert "KA-COOKIE-01" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
