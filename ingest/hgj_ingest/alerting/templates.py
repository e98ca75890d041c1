"""Alert message templates: which placeholders each rule kind offers, checked at load time.

A typo in a placeholder (``{devcie}``) would otherwise surface only when the alert fires, as a
crash or a garbled message in front of security staff at the worst moment; so every template is
checked when the rule file is loaded, by parsing it and formatting it once with sample values
(which also catches format specs that do not fit the value, such as ``{device:.1f}``).
"""

import string
from collections.abc import Mapping
from typing import Literal

RuleKind = Literal["threshold", "event", "absence", "face"]

COMMON_PLACEHOLDERS = frozenset({"device", "community", "location", "rule"})
PLACEHOLDERS: Mapping[RuleKind, frozenset[str]] = {
    "threshold": COMMON_PLACEHOLDERS | {"metric", "value", "unit", "limit"},
    "event": COMMON_PLACEHOLDERS | {"kind"},
    "absence": COMMON_PLACEHOLDERS | {"silent_s", "reason"},
    "face": COMMON_PLACEHOLDERS | {"category", "person", "watchlist", "score"},
}
NUMERIC_PLACEHOLDERS = frozenset({"value", "limit", "silent_s", "score"})
"""Placeholders whose values are numbers, so that ``{value:.1f}`` is allowed on them."""

MISSING = "-"
"""Shown for a placeholder whose value is unknown (a device that never said where it is)."""


class _Formatter(string.Formatter):
    """Formats a missing (None) value as ``-`` whatever its format spec says."""

    def format_field(self, value: object, format_spec: str) -> str:
        if value is None:
            return MISSING
        return str(super().format_field(value, format_spec))


_FORMATTER = _Formatter()


def template_problems(text: str, kind: RuleKind) -> list[str]:
    """What is wrong with a template for a rule of this kind (empty when it is fine)."""
    allowed = PLACEHOLDERS[kind]
    try:
        fields = [f for _, f, _, _ in _FORMATTER.parse(text) if f is not None]
    except ValueError as exc:  # an unmatched brace
        return [f"{exc} (write a literal brace as '{{{{' or '}}}}')"]
    problems = []
    for name in fields:
        if name == "" or name.isdigit():
            problems.append("positional placeholder '{}': name the value, e.g. {device}")
        elif name not in allowed:
            problems.append(
                f"unknown placeholder {{{name}}}; a {kind} rule offers "
                + ", ".join(f"{{{p}}}" for p in sorted(allowed))
            )
    if problems:
        return problems
    sample = {name: 1.5 if name in NUMERIC_PLACEHOLDERS else "x" for name in allowed}
    try:
        _FORMATTER.vformat(text, (), sample)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        return [f"cannot format: {exc}"]
    return []


def render(text: str, values: Mapping[str, object]) -> str:
    """Fill a template checked by :func:`template_problems`; unknown values show as ``-``."""
    return _FORMATTER.vformat(text, (), _Defaulting(values))


class _Defaulting(dict[str, object]):
    def __init__(self, values: Mapping[str, object]) -> None:
        super().__init__(values)

    def __missing__(self, key: str) -> object:
        return None
