"""Shared timing helpers for the benchmarks: medians of repeated runs after a warm-up."""
from __future__ import annotations

import statistics
import time


def median_seconds(fn, repeats: int = 200, warmup: int = 20) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls, after ``warmup`` untimed calls."""
    return paired_medians([fn], repeats, warmup)[0]


def paired_medians(fns, repeats: int = 200, warmup: int = 20, clock=time.perf_counter) -> list[float]:
    """Median wall time of each function, timed in alternation so that a change in machine load during the run
    hits all of them alike (the ratio between them is what the benchmarks report).

    ``clock=time.process_time`` times the CPU the process used instead: on a machine shared with other jobs, a
    single-threaded computation's CPU time is what its wall time would be on a free core."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, bucket in zip(fns, times):
            start = clock()
            fn()
            bucket.append(clock() - start)
    return [statistics.median(bucket) for bucket in times]
