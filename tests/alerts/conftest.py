"""Fixtures of the alerts tests: the hand-made region of alerts_helpers.py, in a test
transaction (``region``) or committed (``region_tx``, for tests with threads)."""

from __future__ import annotations

import pytest

from alerts_helpers import build_region
from gongzhi.alerts import evaluation
from gongzhi.observations import services as obs


@pytest.fixture
def region(db):
    yield build_region()
    obs.series_resolver.clear()
    evaluation.evaluator.reset()


@pytest.fixture
def region_tx(transactional_db):
    """The region committed (for tests with threads that read through their own connections)."""
    evaluation.live.wait_idle(10)
    yield build_region()
    evaluation.live.wait_idle(10)
    obs.series_resolver.clear()
    evaluation.evaluator.reset()
