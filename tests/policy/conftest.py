"""Fixtures of the policy tests."""

from __future__ import annotations

import pytest
from policy_factories import micro_config, seeded_policy

from pixelpad.policy import Policy


@pytest.fixture
def micro_policy() -> Policy:
    return seeded_policy(micro_config())
