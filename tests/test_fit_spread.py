"""simstack.fit.spread: how far a fit with laws moves from seed to seed, and the warning it gives."""
import numpy as np
import pandas as pd
import pytest

from simstack.fit.classes import Group
from simstack.fit.spread import relative_sd, seed_warnings


def _group(name, sizes, times, resident=False):
    n = len(sizes)
    rows = pd.DataFrame({"max_stack": sizes, "final_size": sizes, "run_first": times, "waited": np.zeros(n),
                         "run_after": np.zeros(n)})
    return Group(name, rows, [name], resident)


def test_the_formula_is_the_spread_of_sums_of_sizes_and_times_drawn_apart():
    rng = np.random.default_rng(1)
    size = np.r_[np.full(600, 2048.0), np.full(3, 8 << 20)]
    t = rng.exponential(1e-3, len(size))
    t[-3:] = 0.05  # (the deep ones ran long: drawn apart, that goes)
    n = len(size)
    sums = [float((rng.choice(size, n) * rng.choice(t, n)).sum()) for _ in range(4000)]
    assert relative_sd(size, t) == pytest.approx(np.std(sums) / np.mean(sums), rel=0.08)


def test_a_class_whose_few_deep_goroutines_hold_its_stack_time_is_warned_about():
    deep = _group("tests", [2048] * 600 + [8 << 20] * 3, [1e-3] * 600 + [0.05] * 3)
    even = _group("requests", [4096] * 5000, list(np.linspace(1e-3, 3e-3, 5000)))
    parked = _group("workers_resident", [8 << 20] * 2, [1.0, 1.0], resident=True)
    said = seed_warnings([deep, even, parked], 2048)
    assert len(said) == 1 and said[0].startswith("class tests: drawn anew with each seed")
    assert "2 of its 603 goroutines held half of its stack-time" in said[0]  # (each of the 3 deep ones a third)
    assert seed_warnings([even, parked], 2048) == []
