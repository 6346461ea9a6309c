"""Load and validate a scenario file: every mistake is a ScenarioFormatError naming FILE:LINE:COLUMN.

The format is checked by a small declarative spec (which keys each mapping has, which are required,
what kind of value each takes) plus the checks only the project can make: protocol, message and field
names against the wire declarations (`conformance.wire.codec(protocol).messages`), messages given by
fields are encoded once at load time when they use no variable, requirement ids against the catalogue,
and every `${variable}` against the captures of the steps before it. So a scenario that loads runs
without meeting an unknown name. No schema library: the spec below is short and gives better lines.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from conformance import wire
from conformance.protocol import MINI_PROTOCOLS
from conformance.protocol import catalogue as requirement_catalogue
from conformance.wire.handshake import N2N_VERSIONS

from . import matchers as m
from .errors import ScenarioFormatError
from .model import (
    HANDSHAKES,
    MAX_REPEAT,
    MAX_STEPS_RUN,
    MODES,
    ROLES,
    Expect,
    ExpectAny,
    ExpectClose,
    Repeat,
    Scenario,
    Send,
    SendSdu,
    Step,
    Wait,
)
from .mutations import MUTATIONS, Mutation
from .nodes import Node, compose
from .variables import NAME, PREDEFINED, references

N2C_PLAIN_VERSIONS = tuple(range(16, 24))
MAX_SECONDS = 3600.0
HEADER_KEYS = {
    "name": True,
    "description": False,
    "mode": False,
    "role": False,
    "handshake": False,
    "versions": False,
    "magic": False,
    "requirements": False,
    "disable": False,
    "within": False,
    "steps": True,
}
STEP_KINDS = ("send", "send_sdu", "expect", "expect_any", "expect_close", "wait", "repeat")


def load(path: str | Path) -> Scenario:
    """Read, validate and build the scenario in the file at `path`."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioFormatError(f"cannot read the file: {exc}", file=file) from None
    return loads(text, file)


def loads(text: str, file: str = "<scenario>") -> Scenario:
    """Validate and build a scenario from YAML text; `file` names it in errors."""
    return _Builder(compose(text, file)).scenario()


# -- small typed readers of nodes ---------------------------------------------------------------------


def _mapping(node: Node, what: str, keys: dict[str, bool]) -> dict[str, Node]:
    """The node as a mapping with only the `keys` allowed (True: required)."""
    if not node.is_mapping:
        raise node.error(f"{what} must be a mapping with keys {', '.join(keys)}")
    value: dict[str, Node] = node.value
    unknown = [key for key in value if key not in keys]
    if unknown:
        raise value[unknown[0]].error(f"{what}: unknown key {unknown[0]!r}; allowed: {', '.join(keys)}")
    missing = [key for key, required in keys.items() if required and key not in value]
    if missing:
        raise node.error(f"{what}: missing key {missing[0]!r}")
    return value


def _text(node: Node, what: str) -> str:
    if not isinstance(node.value, str) or not node.value.strip():
        raise node.error(f"{what} must be non-empty text")
    return node.value


def _integer(node: Node, what: str, low: int | None = None, high: int | None = None) -> int:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int):
        raise node.error(f"{what} must be an integer, not {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise node.error(f"{what} must be within {low}..{high}, not {value}")
    return value


def _seconds(node: Node, what: str) -> float:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_SECONDS:
        raise node.error(f"{what} must be a number of seconds within 0..{MAX_SECONDS:g}, not {value!r}")
    return float(value)


def _choice(node: Node, what: str, choices: Iterable[str]) -> str:
    options = tuple(choices)
    if node.value not in options:
        raise node.error(f"{what} must be one of {', '.join(options)}, not {node.value!r}")
    return str(node.value)


def _sequence(node: Node, what: str) -> list[Node]:
    if not node.is_sequence:
        raise node.error(f"{what} must be a list")
    items: list[Node] = node.value
    return items


def _hex(node: Node, what: str, allow_variables: bool = False) -> str:
    text = node.value
    if not isinstance(text, str):
        raise node.error(f"{what} must be hex text in quotes, not {text!r}")
    compact = re.sub(r"\s+", "", text)
    if allow_variables and list(references(compact)):
        return compact
    if not compact or len(compact) % 2 or not re.fullmatch(r"[0-9a-fA-F]*", compact):
        raise node.error(f"{what} must be an even number of hex digits, not {text!r}")
    return compact.lower()


class _Builder:
    """Walks the composed document once, in order, so variables are known when they are used."""

    def __init__(self, root: Node) -> None:
        self.root = root
        self.mode = "node-to-node"
        self.defined: set[str] = set(PREDEFINED)
        self.within = 10.0

    def scenario(self) -> Scenario:
        header = _mapping(self.root, "a scenario", HEADER_KEYS)
        options: dict[str, Any] = {}
        if "mode" in header:
            self.mode = options["mode"] = _choice(header["mode"], "mode", MODES)
        if "role" in header:
            options["role"] = _choice(header["role"], "role", ROLES)
        if "handshake" in header:
            options["handshake"] = _choice(header["handshake"], "handshake", HANDSHAKES)
        if "description" in header:
            options["description"] = _text(header["description"], "description")
        if "versions" in header:
            options["versions"] = self._versions(header["versions"])
        if "magic" in header:
            options["magic"] = _integer(header["magic"], "magic", 0, 0xFFFFFFFF)
        if "requirements" in header:
            options["requirements"] = tuple(self._requirement_ids(header["requirements"], "requirements"))
        if "disable" in header:
            options["disable"] = frozenset(self._requirement_ids(header["disable"], "disable"))
        if "within" in header:
            self.within = options["within"] = _seconds(header["within"], "within")
        steps_node = header["steps"]
        steps = self._steps(steps_node, "steps")
        if not steps:
            raise steps_node.error("steps must list at least one step")
        total = _steps_run(steps)
        if total > MAX_STEPS_RUN:
            raise steps_node.error(f"the repeats run {total} steps; at most {MAX_STEPS_RUN} are allowed")
        return Scenario(name=_text(header["name"], "name"), file=self.root.file, steps=steps, **options)

    # -- header ---------------------------------------------------------------------------------------

    def _versions(self, node: Node) -> tuple[int, ...]:
        known = N2N_VERSIONS if self.mode == "node-to-node" else N2C_PLAIN_VERSIONS
        versions = []
        for item in _sequence(node, "versions"):
            version = _integer(item, "a version")
            if version not in known:
                raise item.error(f"{self.mode} version {version} is not one of {known[0]}..{known[-1]}")
            versions.append(version)
        if not versions or len(set(versions)) != len(versions):
            raise node.error("versions must list distinct version numbers, at least one")
        return tuple(versions)

    def _requirement_ids(self, node: Node, what: str) -> list[str]:
        known = requirement_catalogue.load()
        ids = []
        for item in _sequence(node, what):
            rid = _text(item, "a requirement id")
            if rid not in known:
                raise item.error(f"{what}: {rid!r} is not a requirement id of conformance/requirements.yaml")
            ids.append(rid)
        return ids

    # -- steps ----------------------------------------------------------------------------------------

    def _steps(self, node: Node, what: str) -> tuple[Step, ...]:
        return tuple(self._step(item) for item in _sequence(node, what))

    def _step(self, node: Node) -> Step:
        if not node.is_mapping:
            raise node.error(f"a step is a mapping with one of {', '.join(STEP_KINDS)}")
        kinds = [key for key in node.value if key != "note"]
        if len(kinds) != 1 or kinds[0] not in STEP_KINDS:
            found = ", ".join(kinds) or "nothing"
            raise node.error(f"a step has exactly one of {', '.join(STEP_KINDS)} (and an optional note); got {found}")
        if "note" in node.value:
            _text(node.value["note"], "note")
        kind = kinds[0]
        body: Node = node.value[kind]
        build: dict[str, Callable[[Node], Step]] = {
            "send": self._send,
            "send_sdu": self._send_sdu,
            "expect": lambda n: self._expect(n, self.within),
            "expect_any": self._expect_any,
            "expect_close": self._expect_close,
            "wait": lambda n: Wait(n.line, _seconds(n, "wait")),
            "repeat": self._repeat,
        }
        return dataclasses.replace(build[kind](body), line=node.line)  # a step is where its "- kind:" is

    def _protocol(self, node: Node) -> str:
        name = _text(node, "protocol")
        names = [p.name for p in MINI_PROTOCOLS[self.mode] if p.name in wire.CODECS]
        if name not in names:
            raise node.error(f"{name!r} is not a {self.mode} mini-protocol; known: {', '.join(names)}")
        return name

    def _message(self, protocol: str, node: Node) -> wire.MessageType:
        name = _text(node, "message")
        messages = wire.codec(protocol).messages
        if name not in messages:
            raise node.error(f"{protocol} has no message {name!r}; its messages: {', '.join(messages)}")
        return messages[name]

    def _uses(self, node: Node, value: Any) -> None:
        for name in references(value):
            if name not in self.defined:
                known = ", ".join(sorted(self.defined))
                raise node.error(f"${{{name}}} is used before any step captures it (set so far: {known})")

    def _send(self, node: Node) -> Send:
        keys = {"protocol": True, "message": False, "fields": False, "hex": False, "mutate": False, "check": False}
        body = _mapping(node, "send", keys)
        protocol = self._protocol(body["protocol"])
        if ("message" in body) == ("hex" in body):
            raise node.error("send names a message (with its fields) or gives hex, exactly one of the two")
        if "fields" in body and "message" not in body:
            raise body["fields"].error("fields go with a message name, not with hex")
        check = True
        if "check" in body:
            if not isinstance(body["check"].value, bool):
                raise body["check"].error("check must be true or false")
            check = body["check"].value
        mutations = self._mutations(body["mutate"]) if "mutate" in body else ()
        if "hex" in body:
            raw = _hex(body["hex"], "hex", allow_variables=True)
            self._uses(body["hex"], raw)
            return Send(node.line, protocol, hex=raw, mutations=mutations, check=check)
        declaration = self._message(protocol, body["message"])
        fields_node = body.get("fields", Node({}, node.file, node.line, node.column))
        fields = self._fields(declaration, fields_node, check)
        return Send(node.line, protocol, declaration.name, fields, mutations=mutations, check=check)

    def _fields(self, declaration: wire.MessageType, node: Node, check: bool) -> Any:
        """The fields as given (JSON form); names checked, and, if no variable is used, the message built
        and decoded back once now: a value outside its declaration (cookie 70000) needs `check: false`."""
        if not node.is_mapping:
            raise node.error(f"fields of {declaration.name} must be a mapping")
        declared = [name for name, _ in declaration.fields]
        for key, value in node.value.items():
            if key not in declared:
                raise value.error(
                    f"{declaration.name} has no field {key!r}; its fields: {', '.join(declared) or 'none'}"
                )
        fields = node.plain()
        self._uses(node, fields)
        missing = [name for name in declared if name not in fields]
        if missing:
            raise node.error(f"{declaration.name} needs field {missing[0]!r}")
        if not list(references(fields)):
            try:
                codec = wire.codec(declaration.protocol)
                data = codec.encode(codec.from_json({"message": declaration.name, "fields": fields}))
            except (KeyError, ValueError, TypeError, AttributeError, wire.EncodeError, wire.DecodeError) as exc:
                raise node.error(f"{declaration.name} cannot be built from these fields: {exc}") from None
            if check:
                try:
                    codec.decode(data, declaration.states[0] if declaration.states else None)
                except wire.DecodeError as exc:
                    raise node.error(
                        f"{declaration.name} built from these fields does not fit its declaration ({exc}); "
                        "write check: false to send it anyway"
                    ) from None
        return fields

    def _mutations(self, node: Node) -> tuple[Mutation, ...]:
        mutations = []
        items = _sequence(node, "mutate")
        for index, item in enumerate(items):
            if not item.is_mapping or len(item.value) != 1:
                raise item.error(f"a mutation is a one-key mapping, one of: {', '.join(MUTATIONS)}")
            ((name, params_node),) = item.value.items()
            if name not in MUTATIONS:
                raise item.error(f"unknown mutation {name!r}; known: {', '.join(MUTATIONS)}")
            spec = MUTATIONS[name]
            params_spec = {key: required for key, (_, required) in spec.params.items()}
            params = _mapping(params_node, f"mutation {name}", params_spec)
            values: dict[str, Any] = {}
            for key, value in params.items():
                kind = spec.params[key][0]
                if kind == "int":
                    values[key] = _integer(value, f"{name}.{key}", 0 if key == "count" else None, 65535)
                elif kind == "byte":
                    values[key] = _integer(value, f"{name}.{key}", 0, 255)
                else:
                    sizes = [_integer(size, f"{name}.{key}", 1, 65535) for size in _sequence(value, f"{name}.{key}")]
                    if not sizes:
                        raise value.error(f"{name}.{key} must list at least one SDU payload size")
                    values[key] = sizes
            if name == "flip" and values.get("mask", 0xFF) == 0:
                raise params["mask"].error("flip.mask must be non-zero (a zero mask changes nothing)")
            mutation = Mutation(name, values, item.line)
            if mutation.resplit and index != len(items) - 1:
                raise item.error("resplit cuts the message into SDUs, so it must be the last mutation")
            mutations.append(mutation)
        return tuple(mutations)

    def _send_sdu(self, node: Node) -> SendSdu:
        body = _mapping(node, "send_sdu", {"hex": True})
        raw = _hex(body["hex"], "send_sdu.hex", allow_variables=True)
        self._uses(body["hex"], raw)
        return SendSdu(node.line, raw)

    def _expect(self, node: Node, within: float, in_any: bool = False) -> Expect:
        keys = {"protocol": True, "message": True, "fields": False, "capture": False}
        if not in_any:  # an alternative of expect_any has the time of the whole expect_any
            keys["within"] = False
        body = _mapping(node, "expect", keys)
        protocol = self._protocol(body["protocol"])
        declaration = self._message(protocol, body["message"])
        if "within" in body:
            within = _seconds(body["within"], "within")
        fields = self._matchers(declaration, body["fields"]) if "fields" in body else ()
        capture = self._capture(declaration, body["capture"]) if "capture" in body else ()
        return Expect(node.line, protocol, declaration.name, within, fields, capture)

    def _field_path(self, declaration: wire.MessageType, node: Node, path: str) -> str:
        declared = [name for name, _ in declaration.fields]
        if not path or path.split(".")[0] not in declared:
            raise node.error(
                f"{declaration.name} has no field {path.split('.')[0]!r}; its fields: {', '.join(declared) or 'none'}"
            )
        return path

    def _matchers(self, declaration: wire.MessageType, node: Node) -> tuple[tuple[str, m.Matcher], ...]:
        if not node.is_mapping:
            raise node.error("fields of an expect must be a mapping of field path -> matcher")
        out = []
        for path, value in node.value.items():
            self._field_path(declaration, value, path)
            out.append((path, self._matcher(value)))
        return tuple(out)

    def _matcher(self, node: Node) -> m.Matcher:
        value = node.value
        if not (node.is_mapping and len(value) == 1 and next(iter(value)) in m.KEYWORDS):
            plain = node.plain()
            self._uses(node, plain)
            return m.Equals(plain)
        ((keyword, argument),) = value.items()
        self._uses(argument, argument.plain())
        if keyword == "equals":
            return m.Equals(argument.plain())
        if keyword == "regex":
            pattern = _text(argument, "regex")
            if not list(references(pattern)):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise argument.error(f"not a regular expression: {exc}") from None
            return m.Regex(pattern)
        if keyword == "any_of":
            options = _sequence(argument, "any_of")
            if not options:
                raise argument.error("any_of must list at least one matcher")
            return m.AnyOf(tuple(self._matcher(option) for option in options))
        if keyword == "range":
            bounds = _sequence(argument, "range")
            if len(bounds) != 2:
                raise argument.error("range is [LOW, HIGH] (null for no bound)")
            for bound in bounds:
                if bound.value is not None and (
                    isinstance(bound.value, bool) or not isinstance(bound.value, (int, float))
                ):
                    if not list(references(bound.value)):
                        raise bound.error(f"a range bound must be a number or null, not {bound.value!r}")
            return m.Range(bounds[0].value, bounds[1].value)
        if not isinstance(argument.value, bool):
            raise argument.error("present must be true or false")
        return m.Present(argument.value)

    def _capture(self, declaration: wire.MessageType, node: Node) -> tuple[tuple[str, str], ...]:
        if not node.is_mapping:
            raise node.error("capture must be a mapping of variable -> field path")
        out = []
        for name, path_node in node.value.items():
            if not NAME.match(name):
                raise path_node.error(f"{name!r} is not a variable name (letters, digits, _)")
            if name in PREDEFINED:
                raise path_node.error(f"${{{name}}} is predefined and cannot be captured")
            path = self._field_path(declaration, path_node, _text(path_node, "a field path"))
            out.append((name, path))
        self.defined.update(name for name, _ in out)
        return tuple(out)

    def _expect_any(self, node: Node) -> ExpectAny:
        body = _mapping(node, "expect_any", {"of": True, "within": False})
        within = _seconds(body["within"], "within") if "within" in body else self.within
        messages: list[Expect] = []
        close = False
        alternatives = _sequence(body["of"], "expect_any.of")
        for alternative in alternatives:
            alt = _mapping(alternative, "an alternative", {"expect": False, "expect_close": False})
            if len(alt) != 1:
                raise alternative.error("an alternative is one of expect or expect_close")
            if "expect_close" in alt:
                if alt["expect_close"].value not in (None, {}):
                    raise alt["expect_close"].error("expect_close in an alternative takes no options")
                close = True
            else:
                messages.append(self._expect(alt["expect"], within, in_any=True))
        if len(alternatives) < 2:
            raise body["of"].error("expect_any needs at least two alternatives")
        if len({e.protocol for e in messages}) > 1:
            raise body["of"].error("the messages of one expect_any must all be on one mini-protocol")
        return ExpectAny(node.line, within, tuple(messages), close)

    def _expect_close(self, node: Node) -> ExpectClose:
        if node.value is None:
            return ExpectClose(node.line, self.within)
        body = _mapping(node, "expect_close", {"within": False})
        within = _seconds(body["within"], "within") if "within" in body else self.within
        return ExpectClose(node.line, within)

    def _repeat(self, node: Node) -> Repeat:
        body = _mapping(node, "repeat", {"times": True, "steps": True})
        times = _integer(body["times"], "repeat.times", 1, MAX_REPEAT)
        steps = self._steps(body["steps"], "repeat.steps")
        if not steps:
            raise body["steps"].error("repeat.steps must list at least one step")
        return Repeat(node.line, times, steps)


def _steps_run(steps: Iterable[Step]) -> int:
    total = 0
    for step in steps:
        total += step.times * _steps_run(step.steps) if isinstance(step, Repeat) else 1
    return total
