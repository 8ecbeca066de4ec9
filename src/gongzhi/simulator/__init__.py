"""Simulated monitoring data (模拟监测数据) for the demo region, tests and detector scoring.

* :mod:`~gongzhi.simulator.specs` — what each logger is (from a demo region dict); pure.
* :mod:`~gongzhi.simulator.signals` — value models, faults and labels (:class:`Simulator`); pure NumPy.
* :mod:`~gongzhi.simulator.episodes` — pollution episodes travelling down the river network; pure.
* :mod:`~gongzhi.simulator.loggers` — live virtual loggers speaking HJ 212-2017 over TCP (asyncio; no Django).
* :mod:`~gongzhi.simulator.backfill` — bulk history straight into the store (Django).

See docs/simulator.md.
"""

from gongzhi.simulator.episodes import Episode, EpisodeArrival, demo_episodes, propagate
from gongzhi.simulator.signals import (
    EVENT_FLAGS,
    FAULT_KINDS,
    SCHEDULED_KINDS,
    SIGNAL_KINDS,
    DeviceSeries,
    LabelledEvent,
    SimConfig,
    SimulationResult,
    Simulator,
)
from gongzhi.simulator.specs import DeviceSpec, specs_from_region

__all__ = [
    "Simulator", "SimConfig", "SimulationResult", "DeviceSeries", "LabelledEvent", "DeviceSpec", "specs_from_region",
    "Episode", "EpisodeArrival", "demo_episodes", "propagate", "FAULT_KINDS", "SCHEDULED_KINDS", "SIGNAL_KINDS",
    "EVENT_FLAGS",
]
