"""Read YAML into plain data while remembering the line of every key and item.

PyYAML's ``safe_load`` forgets where things came from; composing the node tree keeps each node's
mark, so that a validation error at ``rules[3].threshold.above`` can name line 14. Two YAML 1.1
traps are closed on the way: duplicate keys (silently last-one-wins in PyYAML) are errors, and
base-60 numbers such as an unquoted ``23:00`` (read as 1380) stay text.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[str | int, ...]

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"


class YamlSourceError(Exception):
    """Unreadable YAML; ``line`` is 1-based."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class YamlSource:
    """The data of a YAML document and the line of every path within it."""

    data: Any
    lines: dict[Path, int]

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path`` or of its nearest ancestor that exists in the file (a missing
        key is reported at the mapping that lacks it)."""
        probe = tuple(path)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get((), None)


def read_yaml(text: str) -> YamlSource:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlSourceError(line, f"not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlSourceError(None, f"not valid YAML: {exc}") from None
    if node is None:
        raise YamlSourceError(1, "the file is empty")
    lines: dict[Path, int] = {}
    try:
        data = _convert(node, (), lines, SafeConstructor())
    except RecursionError:  # an alias that contains itself
        raise YamlSourceError(None, "the document nests too deeply (a recursive alias?)") from None
    return YamlSource(data, lines)


def _convert(
    node: Node, path: Path, lines: dict[Path, int], constructor: SafeConstructor
) -> object:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _convert(key_node, (*path, "<key>"), {}, constructor)
            if not isinstance(key, str | int):
                raise YamlSourceError(key_node.start_mark.line + 1, "keys must be plain text")
            if key in result:
                raise YamlSourceError(key_node.start_mark.line + 1, f"duplicate key {key!r}")
            # The key's line, not the value's: for a nested block that is where a reader looks.
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _convert(value_node, (*path, key), lines, constructor)
        return result
    if isinstance(node, SequenceNode):
        return [_convert(item, (*path, i), lines, constructor) for i, item in enumerate(node.value)]
    assert isinstance(node, ScalarNode)
    if node.tag in (_INT_TAG, _FLOAT_TAG) and ":" in node.value:
        return node.value  # base-60 in YAML 1.1; almost always a clock time meant as text
    return constructor.construct_object(node, deep=True)
