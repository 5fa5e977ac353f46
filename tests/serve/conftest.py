"""Fixtures for the serving stage (stand-in predictors live in serve_standins.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from serve_standins import MeanPredictor

from pixelpad.serve import PolicyServer, ServerConfig


@pytest.fixture
def predictor() -> MeanPredictor:
    return MeanPredictor()


@pytest.fixture
def server(predictor: MeanPredictor) -> Iterator[PolicyServer]:
    with PolicyServer(predictor, ServerConfig(port=0)) as running:
        yield running
