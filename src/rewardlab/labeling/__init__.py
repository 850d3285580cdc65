"""Automatic step labels (RESEARCH 3): Monte-Carlo rollouts (Math-Shepherd hard/soft) and an
OmegaPRM-style binary search for the first wrong step.

Both algorithms see a problem only through two functions, so any policy and any verifier plug in:

- ``rollout(prefix_steps, n) -> list[str]``: n completions of the solution after ``prefix_steps``
  (the text that follows the prefix; "" when the prefix already ends the solution);
- ``verify(text) -> bool``: whether a whole solution text reaches the gold answer.

`rewardlab.labeling.world` binds them to the embedded world (a deterministic gold completer and the tiny
policy); ``rewardlab label-steps`` runs them over a file or the world.
"""

from rewardlab.labeling.mc import Rollout, StepLabels, Verify, join_steps, mc_labels
from rewardlab.labeling.search import binary_search_labels

__all__ = ["Rollout", "StepLabels", "Verify", "binary_search_labels", "join_steps", "mc_labels"]
