"""Reading the simulator's YAML data files, with errors that name the file.

YAML 1.1 (PyYAML) reads an unquoted ``07:42`` as the base-60 integer 462; in scenario files
that is a time (7 h 42 min), so such scalars stay strings and the models parse them.
"""

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError


class _Loader(yaml.SafeLoader):
    """SafeLoader without base-60 numbers."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> Any:  # noqa: ANN401 - YAML value
        value = self.construct_scalar(node)
        if isinstance(value, str) and ":" in value:
            return value
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> Any:  # noqa: ANN401 - YAML value
        value = self.construct_scalar(node)
        if isinstance(value, str) and ":" in value:
            return value
        return super().construct_yaml_float(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)


class DataFileError(ValueError):
    """A data file that cannot be read or does not describe what it should; names the file."""


def read_mapping(path: Path, what: str) -> dict[str, Any]:
    """The top-level mapping of a YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read {what} file: {exc}") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise DataFileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise DataFileError(f"{path}: expected a mapping at the top level")
    return data


def format_errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
        for e in exc.errors(include_url=False)
    )
