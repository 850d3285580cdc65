"""Inference-time search with rewards: best-of-N, self-consistency, weighted majority voting, PRM-guided
step-level beam search, and the curves that say what each buys as N grows. See docs/search.md.

- `rewardlab.search.answers`: final-answer extraction (abstentions counted);
- `rewardlab.search.voting`: vote picks and vote curves;
- `rewardlab.search.curves`: accuracy over N for every rule (exact best-of-N estimator) and the
  over-optimisation figure;
- `rewardlab.search.bon`: best-of-N over pools; `rewardlab.search.pools`: sampling with retries and
  compute accounting; `rewardlab.search.beam`: PRM beam search (with a lookahead variant);
  `rewardlab.search.best_first`: PRM best-first search;
- `rewardlab.search.annotate`: scoring a dataset into RAFT SFT data, DPO pairs and a scored copy.
"""

from rewardlab.search.answers import answer_ids, extract_all, get_extractor
from rewardlab.search.bon import BonConfig, Pool, pools_from_records, run_bon
from rewardlab.search.curves import search_curves
from rewardlab.search.voting import majority_vote_curve, vote_curve, vote_pick, vote_weights

__all__ = ["BonConfig", "Pool", "answer_ids", "extract_all", "get_extractor", "majority_vote_curve",
           "pools_from_records", "run_bon", "search_curves", "vote_curve", "vote_pick", "vote_weights"]
