"""Where the data the commands need is found: the golden vectors, the vendored CDDL, the report templates.

In the repository they live at the top level, `vectors/`, `spec/cddl/` and `reports/`. pyproject.toml maps
those folders to the subpackages `conformance.data.vectors`, `conformance.data.cddl` and
`conformance.data.reports`, so an editable install, a plain `pip install .` and a wheel all find them one way,
through importlib.resources, whatever the working folder.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


class DataMissing(Exception):
    """The packaged data cannot be found as a folder (a broken or zipped install, never a skip)."""


def _folder(package: str, marker: str) -> Path:
    """The folder of a data subpackage, checked to hold `marker` (so an empty or wrong folder is an error)."""
    try:
        folder = files(package)
    except ModuleNotFoundError as exc:
        raise DataMissing(f"{package} is not installed: {exc}") from None
    if not isinstance(folder, Path):
        raise DataMissing(f"{package} is not a folder on disk ({folder!r}); install the package unzipped")
    if not (folder / marker).is_file():
        raise DataMissing(f"{folder} has no {marker}: the {package} data is missing from this install")
    return folder


def vectors_dir() -> Path:
    """The golden vectors: `vectors/` of the checkout, or its installed copy."""
    return _folder(f"{__name__}.vectors", "keep-alive.yaml")


def cddl_dir() -> Path:
    """The vendored upstream CDDL: `spec/cddl/` of the checkout, or its installed copy."""
    return _folder(f"{__name__}.cddl", "network.base.cddl")


def profiles_dir() -> Path:
    """The peer profiles: `peers/profiles/` of the checkout, or its installed copy."""
    return _folder(f"{__name__}.profiles", "reference.yaml")


def templates_dir() -> Path:
    """The report templates: `reports/templates/` of the checkout, or its installed copy."""
    return _folder(f"{__name__}.reports", "templates/report.html.j2") / "templates"
