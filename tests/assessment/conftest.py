"""A small region with numbers checkable by hand (see assess_data.py)."""

from __future__ import annotations

import pytest

from assess_data import build_region


@pytest.fixture
def region(db):
    return build_region()
