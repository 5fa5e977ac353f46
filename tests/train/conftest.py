"""Fixtures of the training tests (the factories live in train_factories.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_factories import make_pattern_dataset


@pytest.fixture
def pattern_data(tmp_path: Path) -> Path:
    return make_pattern_dataset(tmp_path / "patterns")
