"""Scenarios: seeded, repeatable timelines played on a simulated community.

``files`` reads scenario files, ``prepared`` resolves one for a community and speed,
``player`` plays it live, ``dryrun`` without a broker.
"""

from hgj_sim.scenario.dryrun import DryMessage, dry_run
from hgj_sim.scenario.files import (
    ScenarioFileError,
    builtin_scenarios,
    load_scenario,
    scenario_path,
)
from hgj_sim.scenario.model import ScenarioFile
from hgj_sim.scenario.player import play_scenario
from hgj_sim.scenario.prepared import ExpectedAlert, PreparedScenario

__all__ = [
    "DryMessage",
    "ExpectedAlert",
    "PreparedScenario",
    "ScenarioFile",
    "ScenarioFileError",
    "builtin_scenarios",
    "dry_run",
    "load_scenario",
    "play_scenario",
    "scenario_path",
]
