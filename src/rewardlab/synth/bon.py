"""Moved to `rewardlab.search` (answers and voting); this shim keeps old imports working until the merge."""

from rewardlab.search.answers import answer_ids
from rewardlab.search.voting import majority_vote_curve

__all__ = ["answer_ids", "majority_vote_curve"]
