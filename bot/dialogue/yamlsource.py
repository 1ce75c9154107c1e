"""YAML loading that remembers where every value came from.

Script errors must point at ``file:line``; PyYAML's composed nodes carry marks,
so the tree is built from nodes here rather than with ``safe_load``.  Mapping
keys are kept as the raw text written in the file: YAML 1.1 would otherwise
read a state's ``on:`` key as ``True`` and DTMF keys ``1:`` as integers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class YamlSource:
    """A parsed document and the 1-based line of each value, by its path from the root."""

    data: Any
    lines: Mapping[Path_, int]

    def line(self, path: Path_) -> int:
        """The line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


class YamlSyntaxError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def parse_yaml(text: str) -> YamlSource:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Path_, int] = {}
        data = _build(loader, node, (), lines) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlSyntaxError(line, f"YAML syntax: {exc.problem or exc.context}") from exc
    finally:
        loader.dispose()
    return YamlSource(data, lines)


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlSyntaxError(key_node.start_mark.line + 1, "YAML: mapping keys must be plain words")
            key = str(key_node.value)
            if key in out:
                raise YamlSyntaxError(key_node.start_mark.line + 1, f"duplicate key {key!r}")
            out[key] = _build(loader, value_node, (*path, key), lines)
            # An error about a mapping entry points at its key, not at the first line of its value.
            lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, child, (*path, i), lines) for i, child in enumerate(node.value)]
    return loader.construct_object(node, deep=True)
