"""Built-in scenario files (``hgj_sim/scenarios/``) and reading any other."""

from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from hgj_sim.scenario.model import ScenarioFile
from hgj_sim.yamlfile import DataFileError, format_errors, read_mapping


class ScenarioFileError(DataFileError):
    """A scenario file that cannot be read or does not describe a valid scenario."""


def scenarios_dir() -> Path:
    return Path(str(resources.files("hgj_sim") / "scenarios"))


def builtin_scenarios() -> list[str]:
    """Names of the packaged scenarios, sorted."""
    return sorted(p.stem for p in scenarios_dir().glob("*.yaml"))


def scenario_path(name_or_path: str | Path) -> Path:
    if isinstance(name_or_path, Path):
        return name_or_path
    if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path:
        return Path(name_or_path)
    path = scenarios_dir() / f"{name_or_path}.yaml"
    if not path.exists():
        raise ScenarioFileError(
            f"no built-in scenario {name_or_path!r}; built-in: {', '.join(builtin_scenarios())}"
            " (or give a path to a .yaml file)"
        )
    return path


def load_scenario(name_or_path: str | Path) -> ScenarioFile:
    """Read a built-in scenario by name, or any scenario file by path."""
    path = scenario_path(name_or_path)
    try:
        data = read_mapping(path, "scenario")
    except DataFileError as exc:
        raise ScenarioFileError(str(exc)) from None
    try:
        scenario = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        raise ScenarioFileError(f"{path}: {format_errors(exc)}") from None
    if path.parent == scenarios_dir() and scenario.id != path.stem:
        raise ScenarioFileError(f"{path}: id {scenario.id!r} differs from the file name")
    return scenario
