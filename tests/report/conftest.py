"""Evidence made once per session by the reference peer over loopback sockets, copied into each test's run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from .runfolder import agency_evidence, failing_run, keep_alive_evidence, n2c_evidence


@dataclass(frozen=True)
class Evidence:
    keep_alive: Path
    agency: Path
    agency_requirement: str
    n2c: Path

    def failing_run(self, folder: Path, label: str = "reference initiator") -> Path:
        return failing_run(folder, self.agency, self.agency_requirement, self.keep_alive, label=label)


@pytest.fixture(scope="session")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Evidence:
    root = tmp_path_factory.mktemp("evidence")
    agency, requirements = agency_evidence(root / "agency")
    assert len(requirements) == 1, requirements  # the reference peer recorded exactly one broken rule
    return Evidence(keep_alive_evidence(root / "keep-alive"), agency, requirements[0], n2c_evidence(root / "n2c"))
