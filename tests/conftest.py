"""Test-wide settings: one thread per worker (two workers share two cores), offline hub."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _cache_in_tmp(monkeypatch, tmp_path_factory):
    """What pixelpad caches (template features, compiled shims) goes to this worker's temporary folder,
    not the user's ~/.cache; commands the tests start inherit it."""
    monkeypatch.setenv("PIXELPAD_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
