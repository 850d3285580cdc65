"""The ``judge:`` reward family: generative judges over any generation backend (docs/judges.md).

``judge:hf:PATH,protocol=pairwise,mode=logprob`` or ``judge:openai:MODEL,base_url=URL,protocol=correctness``.
Modules: `prompts` (published prompt texts), `parsers` (strict, bounded output parsing), `criteria` (rubric
files), `protocols` (prompt + parser per protocol), `rules` (position, failure, aggregation rules),
`engine` (one batched judging round), `group` (four-way, listwise, tournament), `reward` (`JudgeReward`).
"""

from rewardlab.rewards.judge.config import JudgeConfig, split_spec
from rewardlab.rewards.judge.engine import Judged, JudgeError
from rewardlab.rewards.judge.reward import JudgeReward, PairJudgement, from_spec

__all__ = ["JudgeConfig", "JudgeError", "JudgeReward", "Judged", "PairJudgement", "from_spec", "split_spec"]
