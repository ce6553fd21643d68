"""Tests of harness.locust_glue.lifecycle: what happens when spawning completes."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from harness.locust_glue.lifecycle import on_spawning_complete


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # later tests collect as usual


def test_spawning_complete_freezes_the_heap_out_of_full_collections(unfrozen: None) -> None:
    assert gc.get_freeze_count() == 0
    survivor = [object() for _ in range(10)]  # alive when spawning completes
    on_spawning_complete(user_count=3)
    assert gc.get_freeze_count() >= len(survivor)
    # objects made afterwards are collected as usual
    made_later: list[object] = []
    made_later.append(made_later)  # a cycle: only the GC can free it
    del made_later
    assert gc.collect() >= 1
