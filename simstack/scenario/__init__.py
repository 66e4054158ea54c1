"""Scenario files: the YAML contract of spec/scenario-format.md, validated and normalized.

>>> from simstack.scenario import parse_scenario
>>> s = parse_scenario('''
... goroutines:
...   - name: worker
...     count: 100
...     program:
...       - {depth: {dist: uniform, low: 4, high: 40}, run: 1ms}
...       - {depth: 2, block: forever}
... ''')
>>> s.goroutines[0].program[0].duration.mean(), s.runtime.version
(0.001, 'go1.27')
"""
from .checks import check_scenario
from .distributions import Dist, draw_int, draw_time
from .loader import load_scenario, parse_scenario, scenario_from_dict
from .model import (Arrival, Checkpoint, Gate, GCSpec, GoroutineClass, Overrides, ParkFrame, RecordSpec, RuntimeSpec,
                    Scenario, Step)
from .schema import scenario_json_schema

__all__ = ["Arrival", "Checkpoint", "Dist", "check_scenario", "Gate", "GCSpec", "GoroutineClass", "Overrides", "ParkFrame", "RecordSpec",
           "RuntimeSpec", "Scenario", "Step", "draw_int", "draw_time", "load_scenario", "parse_scenario",
           "scenario_from_dict", "scenario_json_schema"]
