"""Shared fixtures. Shared code lives in tests/helpers.py: tests import that, never conftest."""

from __future__ import annotations

import pytest

from climemu.config import DataConfig
from tests.helpers import TINY, section


@pytest.fixture
def tiny_data_cfg() -> DataConfig:
    """The tiny run's data section (tests.helpers.TINY), 20 years instead of 30."""
    return section("data", TINY["data"], years=[401, 420])
