"""Unit strings and distributions (simstack.scenario.units / .distributions)."""
import math
import re

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from simstack.scenario.distributions import IntDist, TimeDist, draw_int, draw_time
from simstack.scenario.units import parse_byte_rate, parse_rate, parse_size, parse_time


@pytest.mark.parametrize("text, expected", [
    (2048, 2048), ("88B", 88), ("2KB", 2000), ("2KiB", 2048), ("1MB", 10**6), ("1MiB", 2**20),
    ("1GB", 10**9), ("1GiB", 2**30), (" 2 KiB ", 2048), ("1.5KiB", 1536), ("4096", 4096), (2048.0, 2048),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected
    assert isinstance(parse_size(text), int)


@pytest.mark.parametrize("bad", ["2 parsecs", "2kb", "2KIB", "-1KiB", -1, "1.3B", "", "KiB", True, None, [1], 1.5])
def test_parse_size_rejects(bad):
    with pytest.raises(ValueError, match=r"expected a size such as 2KiB or 2048.*got"):
        parse_size(bad)


@pytest.mark.parametrize("text, expected", [
    (2, 2.0), (0.25, 0.25), ("500ns", 5e-7), ("10us", 1e-5), ("10µs", 1e-5), ("1.5ms", 0.0015),
    ("2s", 2.0), ("1min", 60.0), ("1e-3", 0.001), (" 3 ms", 0.003),
])
def test_parse_time(text, expected):
    assert parse_time(text) == expected  # exact: units are applied as fractions


@pytest.mark.parametrize("bad", ["5 h", "1m", "ms", "-1s", float("nan"), float("inf"), "1 ms ms", False,
                                 "1e999s", "1e-9999s", 10**400])
def test_parse_time_rejects(bad):
    with pytest.raises(ValueError, match=r"expected a time such as 1.5ms"):
        parse_time(bad)


@pytest.mark.parametrize("text, expected", [
    ("1000/s", 1000.0), ("50/ms", 50000.0), ("3/us", 3e6), ("60/min", 1.0), (7, 7.0), ("2.5", 2.5),
])
def test_parse_rate(text, expected):
    assert parse_rate(text) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("bad", ["5/h", "x/s", "1KiB/s", "/s", "-3/s"])
def test_parse_rate_rejects(bad):
    with pytest.raises(ValueError, match=r"expected a rate such as 1000/s"):
        parse_rate(bad)


def test_parse_byte_rate():
    assert parse_byte_rate("10MiB/s") == 10 * 2**20
    assert parse_byte_rate("1MB/ms") == 1e9
    assert parse_byte_rate(4096) == 4096.0
    with pytest.raises(ValueError, match="expected a byte rate"):
        parse_byte_rate("1MB/fortnight")


# --- distributions -------------------------------------------------------------------

INT = TypeAdapter(IntDist)
TIME = TypeAdapter(TimeDist)

ALL = [
    5,
    {"dist": "constant", "value": 5},
    {"dist": "uniform", "low": 1, "high": 9},
    {"dist": "normal", "mean": 5, "std": 2},
    {"dist": "lognormal", "mean": 1.0, "sigma": 0.5},
    {"dist": "exponential", "mean": 3},
    {"dist": "geometric", "mean": 3},
    {"dist": "empirical", "values": [1, 2, 3], "weights": [1, 0, 3]},
    {"dist": "empirical", "values": [1, 2, 3]},
    {"dist": "sequence", "values": [4, 5, 6, 7, 8]},
]


@pytest.mark.parametrize("spec", ALL)
def test_sampling_is_deterministic_and_matches_sample_many(spec):
    d = INT.validate_python(spec)
    first = [d.sample(rng, i) for rng in [np.random.default_rng(42)] for i in range(5)]
    again = [d.sample(rng, i) for rng in [np.random.default_rng(42)] for i in range(5)]
    assert first == again
    assert np.array_equal(d.sample_many(np.random.default_rng(42), 5), first)


def test_known_values_and_means():
    rng = np.random.default_rng(0)
    uniform = INT.validate_python({"dist": "uniform", "low": 1, "high": 9})
    assert uniform.sample(rng) == pytest.approx(np.random.default_rng(0).uniform(1, 9))
    assert uniform.mean() == 5 and not uniform.is_constant
    geometric = INT.validate_python({"dist": "geometric", "mean": 4})
    draws = geometric.sample_many(np.random.default_rng(1), 20000)
    assert draws.min() >= 1 and abs(draws.mean() - 4) < 0.1
    lognormal = INT.validate_python({"dist": "lognormal", "mean": 0.0, "sigma": 1.0})
    assert lognormal.mean() == pytest.approx(math.exp(0.5))
    empirical = INT.validate_python({"dist": "empirical", "values": [1, 2, 3], "weights": [1, 0, 3]})
    assert set(empirical.sample_many(rng, 200)) == {1.0, 3.0} and empirical.mean() == 2.5
    assert INT.validate_python(7).is_constant and INT.validate_python(7).mean() == 7


def test_time_distributions_use_time_units():
    assert TIME.validate_python("1.5ms").value == 0.0015
    d = TIME.validate_python({"dist": "uniform", "low": "1ms", "high": "3ms"})
    assert (d.low, d.high) == (0.001, 0.003)
    assert TIME.validate_python({"dist": "exponential", "mean": "2us"}).mean() == 2e-6
    assert TIME.validate_python({"dist": "sequence", "values": ["1s", 2]}).values == [1.0, 2.0]


def test_sequence_indexes_by_goroutine_ordinal():
    d = INT.validate_python({"dist": "sequence", "values": [10, 20, 30]})
    assert [d.sample(None, i) for i in range(3)] == [10, 20, 30]
    assert list(d.sample_many(None, 2, start_index=1)) == [20, 30]
    with pytest.raises(IndexError, match=r"sequence has 3 values, so goroutine #3 of its class"):
        d.sample(None, 3)


def test_draw_helpers_round_and_clip():
    rng = np.random.default_rng(0)
    assert draw_int(INT.validate_python({"dist": "sequence", "values": [0, 2, 3]}), rng, 1) == 2
    assert draw_int(INT.validate_python({"dist": "uniform", "low": 2.5, "high": 2.5}), rng) == 3  # halves up
    neg = INT.validate_python({"dist": "normal", "mean": 0, "std": 100})
    draws = [draw_int(neg, rng) for _ in range(200)]
    assert min(draws) == 0 and all(isinstance(x, int) for x in draws)
    t = TIME.validate_python({"dist": "normal", "mean": "1ms", "std": "10ms"})
    assert min(draw_time(t, rng) for _ in range(200)) == 0.0


@pytest.mark.parametrize("spec, message", [
    ("abc", "expected a non-negative integer or a distribution, got 'abc'"),
    (2.5, "expected a non-negative integer or a distribution, got 2.5"),
    ({"low": 1}, "a distribution needs a 'dist' key"),
    ({"dist": "unifrom", "low": 1, "high": 2}, "unknown distribution 'unifrom'; did you mean 'uniform'?"),
    ({"dist": "uniform", "low": 5, "high": 2}, "uniform needs low <= high"),
    ({"dist": "empirical", "values": [1, 2], "weights": [1]}, "empirical has 2 values but 1 weights"),
    ({"dist": "empirical", "values": [1], "weights": [0]}, "must not all be zero"),
    ({"dist": "geometric", "mean": 0.5}, "greater than or equal to 1"),
    ({"dist": "normal", "mean": 1}, "Field required"),
])
def test_bad_distributions(spec, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        INT.validate_python(spec)
