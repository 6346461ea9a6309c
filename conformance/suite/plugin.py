"""The pytest plugin of the conformance suite (entry point `pytest11`): options, markers, the `case`
fixture, grading and the report folder.

Loaded in every pytest run where the package is installed, it stays inert until a case asks for the
`case` fixture. Cases (conformance/suite/cases/) declare what they check with markers:

- `@pytest.mark.requirement("CS-INTERSECT-01", ...)`: the requirement ids the case checks (required);
- `@pytest.mark.role("responder")`: the role of the PEER UNDER TEST (default responder); cases of the
  other role are deselected;
- `@pytest.mark.mode("node-to-client")`: node-to-client cases run only with --peer-socket;
- `@pytest.mark.area("StIdle")`: the state or area (the allure feature), optional.

With `--conformance-report DIR` the run writes DIR/results.json, DIR/run.json and DIR/evidence/
(the input of conformance/report; the format is in docs/suite.md).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.protocol import catalogue

from . import profile as profiles
from .case import N2C, N2N, Case, Target, Unreachable, slug
from .grading import Record, grade
from .listener import Listener
from .loop import SuiteLoop

EXIT_UNREACHABLE = 2
_STATE = pytest.StashKey["_RunState"]()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise pytest.UsageError(f"not HOST:PORT: {text!r}")
    return host.strip("[]"), int(port)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ouroboros-conformance", "Ouroboros conformance suite (docs/suite.md)")
    group.addoption("--peer", metavar="HOST:PORT", default=None, help="the node-to-node responder under test")
    group.addoption("--peer-socket", metavar="PATH", default=None, help="the node-to-client responder under test")
    group.addoption(
        "--listen",
        metavar="HOST:PORT",
        default=None,
        help="with --role initiator: listen here for the initiator under test",
    )
    group.addoption("--magic", type=int, default=764824073, help="network magic (default mainnet)")
    group.addoption(
        "--role",
        choices=("responder", "initiator"),
        default="responder",
        help="the role of the peer under test (default responder: we connect to it)",
    )
    group.addoption("--peer-profile", metavar="FILE", default=None, help="peer profile YAML (peers/profiles/)")
    group.addoption(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiplies every protocol time limit; start the peer with the same scale",
    )
    group.addoption(
        "--conformance-report", metavar="DIR", default=None, help="write results.json, run.json and evidence/ here"
    )
    group.addoption("--conformance-label", default=None, help="the run's name in a report matrix")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(*ids): requirement ids a conformance case checks")
    config.addinivalue_line("markers", "role(name): the role of the peer under test (responder or initiator)")
    config.addinivalue_line("markers", "mode(name): node-to-node (default) or node-to-client")
    config.addinivalue_line("markers", "area(name): the state or area a conformance case exercises")


class _RunState:
    """What one run shares between cases: the target, the loop, the listener, and the records."""

    def __init__(self, config: pytest.Config) -> None:
        option = config.getoption
        profile_path = option("--peer-profile")
        try:
            profile = profiles.load(Path(profile_path)) if profile_path else profiles.PeerProfile()
        except profiles.ProfileError as error:
            raise pytest.UsageError(str(error)) from None
        if option("--time-scale") <= 0:
            raise pytest.UsageError("--time-scale must be positive")
        role = option("--role")
        listen = option("--listen")
        self.target = Target(
            role=role,
            peer=_address(option("--peer")) if option("--peer") else None,
            socket=option("--peer-socket"),
            listen=_address(listen) if listen else None,
            magic=option("--magic"),
            time_scale=option("--time-scale"),
            profile=profile,
        )
        report = option("--conformance-report")
        self.report_dir = Path(report) if report else None
        if self.report_dir is not None:
            _clear(self.report_dir)
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self.evidence_root = (self.report_dir / "evidence") if self.report_dir else self._scratch_dir()
        self.label = option("--conformance-label") or f"{profile.name} {role}"
        self.records: list[Record] = []
        self.outcomes: dict[str, int] = {"total": 0, "passed": 0, "failed": 0, "skipped": 0, "xfailed": 0}
        self.started = datetime.datetime.now(datetime.UTC)
        self.clock = time.monotonic()
        self.unreachable: str | None = None
        self._loop: SuiteLoop | None = None
        self.listener: Listener | None = None
        self.reporter = config.pluginmanager.get_plugin("terminalreporter")

    def _scratch_dir(self) -> Path:
        self._scratch = tempfile.TemporaryDirectory(prefix="conformance-evidence-")
        return Path(self._scratch.name)

    def start(self) -> None:
        self.loop.run(_noop(), 1)

    @property
    def loop(self) -> SuiteLoop:
        if self._loop is None:
            self._loop = SuiteLoop()
            if self.target.role == "initiator":
                host, port = self.target.listen or ("127.0.0.1", 0)
                self.listener = Listener(host, port)
                self._loop.run(self.listener.start(), 10)
                self._announce(self.listener)
        return self._loop

    def _announce(self, listener: Listener) -> None:
        """Say where the tested initiator must connect (the port may have been 0): on the terminal and,
        for a program that starts the initiator (self-test), in DIR/listening.json."""
        where = {"host": listener.host, "port": listener.port}
        if self.report_dir is not None:
            self.report_dir.mkdir(parents=True, exist_ok=True)
            (self.report_dir / "listening.json").write_text(json.dumps(where), encoding="utf-8")
        if self.reporter is not None:
            self.reporter.write_line(f"listening for the initiator under test on {listener.host}:{listener.port}")

    def close(self) -> None:
        if self._loop is not None:
            if self.listener is not None:
                self._loop.run(self.listener.close(), 10)
            self._loop.close()
        if self._scratch is not None:
            self._scratch.cleanup()


def _clear(report: Path) -> None:
    """Remove what an earlier run wrote into the report folder, so nothing stale is read as this run's."""
    for name in ("results.json", "run.json", "listening.json"):
        (report / name).unlink(missing_ok=True)
    shutil.rmtree(report / "evidence", ignore_errors=True)


async def _noop() -> None:
    return None


def _state(config: pytest.Config) -> _RunState:
    if _STATE not in config.stash:
        config.stash[_STATE] = _RunState(config)
    return config.stash[_STATE]


def _marker_args(item: pytest.Item, name: str) -> tuple[Any, ...]:
    args: list[Any] = []
    for mark in item.iter_markers(name):
        args.extend(mark.args)
    return tuple(args)


def _case_name(item: pytest.Item) -> str:
    return f"{item.path.name}::{item.name}"


def _is_case(item: pytest.Item) -> bool:
    """An item that takes this plugin's `case` fixture (not a test that merely parametrizes a `case`)."""
    if "case" not in getattr(item, "fixturenames", ()):
        return False
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.get("case", ()) if info is not None else ()
    return any(getattr(d.func, "__module__", None) == __name__ for d in definitions)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the cases of the run's role and modes; label them for allure; check their requirement ids."""
    cases = [item for item in items if _is_case(item)]
    if not cases:
        return
    state = _state(config)
    known = catalogue.load()
    keep, drop = [], []
    for item in items:
        if not _is_case(item):
            keep.append(item)
            continue
        requirements = _marker_args(item, "requirement")
        unknown = [r for r in requirements if r not in known]
        if not requirements or unknown:
            raise pytest.UsageError(f"{_case_name(item)}: requirement marker missing or unknown ids {unknown}")
        role = (_marker_args(item, "role") or ("responder",))[0]
        mode = (_marker_args(item, "mode") or (N2N,))[0]
        if role != state.target.role or not _mode_available(state.target, role, mode):
            drop.append(item)
            continue
        _label(item, requirements, known)
        keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    if state.target.role == "initiator" and any(_is_case(item) for item in items):
        state.start()  # listen before the first case, so the initiator under test can connect at once


def _mode_available(target: Target, role: str, mode: str) -> bool:
    if role == "initiator":
        return mode == N2N  # a tested node-to-client initiator (a wallet) is out of scope for now
    return target.socket is not None if mode == N2C else target.peer is not None


def _label(item: pytest.Item, requirements: tuple[str, ...], known: Any) -> None:
    """allure-pytest labels: epic = protocol, feature = area, story = requirement, severity."""
    first = known[requirements[0]]
    severity = {"MUST": "critical", "SHOULD": "normal"}.get(first.severity, "minor")
    area = (_marker_args(item, "area") or (item.path.stem.removeprefix("test_"),))[0]
    item.add_marker(pytest.mark.allure_label(first.protocols[0], label_type="epic"))
    item.add_marker(pytest.mark.allure_label(area, label_type="feature"))
    item.add_marker(pytest.mark.allure_label(*requirements, label_type="story"))
    item.add_marker(pytest.mark.allure_label(severity, label_type="severity"))


@pytest.fixture
def case(request: pytest.FixtureRequest) -> Iterator[Case]:
    """The current conformance case (conformance/suite/case.py)."""
    state = _state(request.config)
    item = request.node
    name = _case_name(item)
    mode = (_marker_args(item, "mode") or (N2N,))[0]
    if state.unreachable is not None:
        pytest.skip(f"the peer under test is unreachable: {state.unreachable}")
    evidence = state.evidence_root / slug(name)
    evidence.mkdir(parents=True, exist_ok=True)
    loop = state.loop
    current = Case(name, _marker_args(item, "requirement"), state.target, loop, evidence, state.listener)
    current.mode = mode
    yield current


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if call.when == "call" and _is_case(item):
        state = _state(item.config)
        current: Case | None = getattr(item, "funcargs", {}).get("case")
        if current is not None:
            _record(state, item, current, call, report)
    return report


def _record(state: _RunState, item: pytest.Item, current: Case, call: pytest.CallInfo[None], report: Any) -> None:
    excinfo = call.excinfo
    if excinfo is not None and excinfo.errisinstance(Unreachable):
        state.unreachable = str(excinfo.value)
        current.error = state.unreachable
    elif excinfo is not None and current.error is None and not current.findings and current.unsupported_reason is None:
        if not excinfo.errisinstance((pytest.skip.Exception, pytest.xfail.Exception)):
            current.error = f"{excinfo.typename}: {excinfo.value}"  # the case itself broke: never a pass
    evidence = current.evidence_dir
    relative = None
    if state.report_dir is not None and any(evidence.iterdir()):
        relative = evidence.relative_to(state.report_dir).as_posix()
    state.records.extend(
        grade(
            current.name,
            current.requirements,
            current.findings,
            mode=current.mode,
            profile=state.target.profile,
            unsupported=current.unsupported_reason,
            not_run=current.not_run_reason,
            error=current.error,
            evidence=relative,
            duration=current.duration,
        )
    )
    _attach(evidence)


def _attach(evidence: Path) -> None:
    """The case's transcripts and pcaps as allure attachments (a no-op without --alluredir)."""
    try:
        import allure
    except ImportError:  # allure-pytest is a dependency; tolerate its absence in a trimmed install
        return
    for path in sorted(evidence.iterdir()):
        if path.suffix == ".jsonl":
            allure.attach.file(str(path), name=path.name, attachment_type=allure.attachment_type.JSON)
        elif path.suffix == ".pcap":
            allure.attach.file(str(path), name=path.name, extension="pcap")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if _STATE not in config.stash:
        return
    state = config.stash[_STATE]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    stats = getattr(reporter, "stats", {}) if reporter is not None else {}
    passed = len([r for r in stats.get("passed", []) if getattr(r, "when", "") == "call"])
    failed = len([r for r in stats.get("failed", []) if getattr(r, "when", "") == "call"])
    skipped = len(stats.get("skipped", []))
    xfailed = len(stats.get("xfailed", []))
    state.outcomes = {
        "total": passed + failed + skipped + xfailed,
        "passed": passed,
        "failed": failed,
        "skipped": skipped,
        "xfailed": xfailed,
    }
    if state.report_dir is not None:
        _write(state)
    if state.unreachable is not None and not any(r.outcome == "passed" for r in state.records):
        session.exitstatus = EXIT_UNREACHABLE
    state.close()


def _write(state: _RunState) -> None:
    from conformance import __version__
    from conformance.report import check_record, check_run_info

    assert state.report_dir is not None
    state.report_dir.mkdir(parents=True, exist_ok=True)
    target = state.target
    if target.role == "initiator":
        listener = state.listener
        peer = f"listen {target.listen[0] if target.listen else '127.0.0.1'}:{listener.port if listener else 0}"
    else:
        peer = " + ".join(
            p for p in (f"{target.peer[0]}:{target.peer[1]}" if target.peer else "", target.socket or "") if p
        )
    run = {
        "label": state.label,
        "peer": peer,
        "role": target.role,
        "profile": target.profile.name,
        "implementation": target.profile.implementation,
        "magic": target.magic,
        "time_scale": target.time_scale,
        "started": state.started.isoformat(timespec="seconds"),
        "duration": round(time.monotonic() - state.clock, 3),
        "tool_version": __version__,
        "cases": state.outcomes,
        "unreachable": state.unreachable,
    }
    check_run_info(run)  # the report's input contract, checked where it is written
    (state.report_dir / "run.json").write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")
    records = [dataclasses.asdict(record) for record in state.records]
    for record in records:
        check_record(record)
    (state.report_dir / "results.json").write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
