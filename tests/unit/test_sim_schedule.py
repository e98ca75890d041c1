"""A device's schedule: readings on a grid, scripted actions in order, missed readings skipped;
and the seeded network faults of `run --faults`."""

import itertools
import random

from hgj_sim.actions import Action, Emit, LinkDown, LinkUp, Report, Stop
from hgj_sim.faults import fault_actions
from hgj_sim.schedule import DeviceSchedule
from hgj_sim.site import FaultRates


def _drain(schedule: DeviceSchedule, until: float) -> list[tuple[float, str]]:
    out = []
    while (at := schedule.next_time()) is not None and at <= until:
        at, action = schedule.pop()
        out.append((at, type(action).__name__))
    return out


def test_reports_on_a_grid_with_scripted_actions_first_at_equal_times() -> None:
    scripted: list[tuple[float, Action]] = [(10.0, Emit("smoke")), (25.0, Stop())]
    schedule = DeviceSchedule(period_s=10.0, first_report_s=5.0, scripted=scripted)
    assert _drain(schedule, 26) == [
        (5.0, "Report"),
        (10.0, "Emit"),
        (15.0, "Report"),
        (25.0, "Stop"),
        (25.0, "Report"),
    ]


def test_inserted_actions_and_a_new_period() -> None:
    schedule = DeviceSchedule(period_s=10.0, first_report_s=0.0)
    schedule.pop()
    schedule.insert(3.0, Emit("face"))
    schedule.set_period(2.0, now_s=3.0)
    assert _drain(schedule, 8) == [(3.0, "Emit"), (5.0, "Report"), (7.0, "Report")]


def test_missed_readings_are_skipped_keeping_the_phase() -> None:
    schedule = DeviceSchedule(period_s=10.0, first_report_s=1.0)
    assert schedule.skip_missed_reports(35.0) == 4  # 1, 11, 21, 31
    assert schedule.pop() == (41.0, Report())
    assert schedule.skip_missed_reports(20.0) == 0


def test_minimum_spacing_thins_readings_at_high_speed() -> None:
    schedule = DeviceSchedule(period_s=60.0, first_report_s=0.0, min_spacing_s=300.0)
    assert [at for at, _ in _drain(schedule, 1000)] == [0.0, 300.0, 600.0, 900.0]


def test_an_endless_script_is_read_lazily() -> None:
    endless = ((float(n), Emit("tamper")) for n in itertools.count(1))
    schedule = DeviceSchedule(period_s=1000.0, first_report_s=500.0, scripted=endless)
    assert [at for at, _ in _drain(schedule, 3)] == [1.0, 2.0, 3.0]


def test_faults_are_seeded_alternate_and_follow_the_rates() -> None:
    rates = FaultRates(flaps_per_day=48.0, offline_periods_per_day=0.0, flap_seconds=(5, 10))
    first = list(itertools.islice(fault_actions(rates, random.Random("a")), 200))
    again = list(itertools.islice(fault_actions(rates, random.Random("a")), 200))
    assert first == again
    kinds = [type(a) for _, a in first]
    assert kinds == [LinkDown, LinkUp] * 100
    downs = [at for at, a in first if isinstance(a, LinkDown)]
    ups = [at for at, a in first if isinstance(a, LinkUp)]
    assert all(5 <= up - down <= 10 for down, up in zip(downs, ups, strict=True))
    per_day = len(downs) / (downs[-1] / 86400)
    assert 30 < per_day < 70


def test_no_faults_when_the_rates_are_zero() -> None:
    rates = FaultRates(flaps_per_day=0.0, offline_periods_per_day=0.0)
    assert list(fault_actions(rates, random.Random(1))) == []
