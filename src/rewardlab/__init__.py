"""rewardlab: one scoring interface over every reward family.

The public surface is small on purpose::

    from rewardlab import Sample, load_reward
    reward = load_reward("classifier:minilm")
    scores = reward.score([Sample("What is 2+2?", "4")])
"""

from rewardlab.rewards.base import Reward, load_reward
from rewardlab.types import CandidatesRecord, PairRecord, Sample, Score, StepRecord

__version__ = "0.1.0"
__all__ = ["CandidatesRecord", "PairRecord", "Reward", "Sample", "Score", "StepRecord", "load_reward",
           "__version__"]
