"""YAML composed into nodes that remember where they stand, so every format error names its line.

PyYAML's `compose` keeps each node's `start_mark`; `Node` wraps the composed tree with plain Python values
at the leaves (built by PyYAML's safe constructor, so `0x2a` is 42 and `yes` stays what YAML 1.1 says).
Duplicate keys, which PyYAML accepts silently, are an error here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from .errors import ScenarioFormatError


@dataclass(frozen=True)
class Node:
    """One YAML node: a dict of Nodes, a list of Nodes, or a plain scalar; with its file, line and column."""

    value: Any
    file: str
    line: int
    column: int

    def error(self, detail: str) -> ScenarioFormatError:
        return ScenarioFormatError(detail, file=self.file, line=self.line, column=self.column)

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_sequence(self) -> bool:
        return isinstance(self.value, list)

    def plain(self) -> Any:
        """The value with every nested Node unwrapped (for fields, which the wire layer converts)."""
        if isinstance(self.value, dict):
            return {key: node.plain() for key, node in self.value.items()}
        if isinstance(self.value, list):
            return [node.plain() for node in self.value]
        return self.value


def compose(text: str, file: str) -> Node:
    """Parse one YAML document into Nodes; a YAML syntax error becomes a ScenarioFormatError."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        column = None if mark is None else mark.column + 1
        raise ScenarioFormatError(
            f"not valid YAML: {exc.problem or exc}", file=file, line=line, column=column
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioFormatError(f"not valid YAML: {exc}", file=file) from None
    if root is None:
        raise ScenarioFormatError("the file is empty", file=file, line=1)
    return _wrap(root, file, yaml.constructor.SafeConstructor(), depth=0)


_MAX_DEPTH = 64
"""Deeper nesting than any scenario needs; refused so that hostile input cannot exhaust the stack."""


def _wrap(node: yaml.Node, file: str, constructor: yaml.constructor.SafeConstructor, depth: int) -> Node:
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    if depth > _MAX_DEPTH:
        raise ScenarioFormatError(f"nested deeper than {_MAX_DEPTH} levels", file=file, line=line, column=column)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = _wrap(key_node, file, constructor, depth + 1)
            if not isinstance(key.value, (str, int)) or isinstance(key.value, bool):
                raise key.error(f"a key must be text or a number, not {type(key.value).__name__}")
            name = str(key.value)
            if name in out:
                raise key.error(f"key {name!r} appears twice in this mapping")
            out[name] = _wrap(value_node, file, constructor, depth + 1)
        return Node(out, file, line, column)
    if isinstance(node, yaml.SequenceNode):
        return Node([_wrap(item, file, constructor, depth + 1) for item in node.value], file, line, column)
    try:
        value = constructor.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise ScenarioFormatError(f"bad scalar: {exc}", file=file, line=line, column=column) from None
    return Node(value, file, line, column)
