"""Network faults for ``run --faults``: flaps and offline periods, seeded per device.

Arrivals are a Poisson process in simulated time at the community's rates (``faults:`` in its
file); each takes the link down (the broker publishes the device's last will) and brings it
back after a drawn duration. The same seed gives the same faults at the same moments.
"""

import random
from collections.abc import Iterator

from hgj_sim.actions import Action, LinkDown, LinkUp
from hgj_sim.site import FaultRates

DAY_S = 86400.0


def fault_actions(rates: FaultRates, rng: random.Random) -> Iterator[tuple[float, Action]]:
    """An endless, time-ordered stream of (offset, LinkDown/LinkUp) for one device."""
    per_second = (rates.flaps_per_day + rates.offline_periods_per_day) / DAY_S
    if per_second <= 0:
        return
    flap_share = rates.flaps_per_day / (rates.flaps_per_day + rates.offline_periods_per_day)
    at = 0.0
    while True:
        at += rng.expovariate(per_second)
        if rng.random() < flap_share:
            down_s = rng.uniform(*sorted(rates.flap_seconds))
        else:
            low, high = sorted(rates.offline_minutes)
            down_s = 60 * rng.uniform(low, high)
        yield at, LinkDown()
        at += down_s
        yield at, LinkUp()
