"""benchmarks/heldout.py moves reference configurations to other parameter points: every
moved configuration must still be a valid scenario of the same plan."""
import importlib.util
import random
from pathlib import Path

import pytest

from simstack.reference.plan import record_to_scenario
from simstack.scenario import scenario_from_dict

from test_reference import REFERENCE

pytestmark = pytest.mark.skipif(not REFERENCE.is_file(), reason=f"reference data not found at {REFERENCE}")

_spec = importlib.util.spec_from_file_location(
    "heldout", Path(__file__).resolve().parents[1] / "benchmarks" / "heldout.py")
heldout = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(heldout)


@pytest.mark.parametrize("seed", [0, 1])
def test_every_configuration_moves_to_a_valid_scenario_of_the_same_plan(seed):
    rng = random.Random(seed)
    configs = heldout.configurations(REFERENCE, [])
    assert len(configs) == len({r["config_id"] for r in configs}) > 100  # one record per configuration
    for rec in configs:
        base = record_to_scenario(rec)
        moved = heldout.move(base, rng, "p", procs=(3, 4), frames=(4104,))
        sc = scenario_from_dict(moved, source=rec["config_id"])
        assert sc.runtime.gomaxprocs in (3, 4)
        assert [c.name for c in sc.goroutines] == [c["name"] for c in base["goroutines"]]
        assert sc.checkpoints and [c.label for c in sc.checkpoints] == [c["label"] for c in base["checkpoints"]]
        for cls, orig in zip(moved["goroutines"], base["goroutines"]):
            if orig.get("count"):
                assert 8 <= cls["count"] <= max(8, orig["count"])
            if "frame" in orig:
                assert cls["frame"] == "4104B"
            for step in cls.get("program", []):
                depth = step.get("depth")
                if isinstance(depth, dict) and depth.get("dist") == "sequence":
                    assert len(depth["values"]) == cls["count"]  # one depth per goroutine
