"""``rewardlab demo``: the whole reward-modeling lifecycle on the embedded world, offline, in minutes.

It sits above the layers it drives: the world and its policy (`rewardlab.synth`, which imports neither
training nor evaluation), training (`rewardlab.train`), scoring (`rewardlab.rewards`) and evaluation
(`rewardlab.evaluate`). Modules: `pipeline` (the cached stages and `run_demo`), `report` (the numbers
and the page).
"""

from rewardlab.demo.pipeline import SIZES, DemoSize, run_demo

__all__ = ["SIZES", "DemoSize", "run_demo"]
