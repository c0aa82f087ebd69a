"""Heavy analyses share a bounded lane; the same question asked at once is computed once."""

from __future__ import annotations

import threading
import time

import pytest

from dashboard.services import _LRU, Busy, HeavyLane


def test_same_question_at_once_is_computed_once():
    cache = _LRU(8, HeavyLane(workers=1, slots=8))
    calls = []
    gate = threading.Event()

    def make():
        calls.append(1)
        gate.wait(5)
        return "answer"

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", make, heavy=True)))
               for _ in range(5)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(5)
    assert results == ["answer"] * 5 and len(calls) == 1


def test_a_full_lane_says_busy_at_once_instead_of_queueing_without_end():
    lane = HeavyLane(workers=1, slots=2)
    cache = _LRU(8, lane)
    gate = threading.Event()
    started = threading.Semaphore(0)

    def slow(tag):
        def make():
            started.release()
            gate.wait(5)
            return tag
        return make

    threads = [threading.Thread(target=cache.get, args=(k, slow(k)), kwargs={"heavy": True})
               for k in ("a", "b")]
    for t in threads:
        t.start()
    assert started.acquire(timeout=5)  # one runs, the other waits for the worker
    time.sleep(0.1)
    with pytest.raises(Busy, match="busy"):
        cache.get("c", slow("c"), heavy=True)
    # quick values never queue behind heavy ones
    assert cache.get("quick", lambda: 42) == 42
    gate.set()
    for t in threads:
        t.join(5)
    assert cache.get("c", lambda: "c", heavy=True) == "c"


def test_a_failure_reaches_every_waiter_and_is_not_cached():
    cache = _LRU(8, HeavyLane(workers=1, slots=4))
    gate = threading.Event()

    def boom():
        gate.wait(5)
        raise ValueError("bad parameter")

    errors = []

    def ask():
        try:
            cache.get("k", boom, heavy=True)
        except ValueError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(5)
    assert errors == ["bad parameter"] * 3
    assert cache.get("k", lambda: "fine", heavy=True) == "fine"


def test_heavy_work_inside_heavy_work_runs_in_the_worker_it_holds():
    """A briefing document (in the lane) asking for a plan (in the lane) must not wait on
    itself, even with one worker and one slot."""
    lane = HeavyLane(workers=1, slots=1, wait_s=2)
    cache = _LRU(8, lane)

    def outer():
        return cache.get("inner", lambda: "plan", heavy=True) + " + pages"

    with lane.slot():
        assert lane.run(outer) == "plan + pages"


def test_a_refused_question_is_refused_again_without_recomputing():
    from geo.query import FilterError

    cache = _LRU(8, HeavyLane(workers=1, slots=1))
    calls = []

    def refuse():
        calls.append(1)
        raise FilterError("periods", "too many cells x periods")

    for _ in range(3):
        with pytest.raises(FilterError, match="too many"):
            cache.get("k", refuse, heavy=True)
    assert len(calls) == 1
