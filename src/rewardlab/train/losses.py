"""Training losses as pure functions of reward tensors; recipes call them, tests check the arithmetic.

All return *per-item* losses (no reduction): the recipe divides a step's sum by the number of items in
the whole step, so token-budget micro-batches and data-parallel shards add up to exactly the mean over
the step, whatever the split.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bradley_terry_loss(
    chosen: torch.Tensor, rejected: torch.Tensor, margin: torch.Tensor | None = None,
    center_coef: float = 0.0,
) -> torch.Tensor:
    """Per-pair Bradley-Terry loss, -log sigma(r_c - r_r - m) + lambda * (r_c + r_r)^2.

    ``chosen``/``rejected``: (n,) or (n, heads) rewards; ``margin``: (n,) or None (0). The margin is TRL's
    ``margin`` column (Llama 2 style); the centering term is TRL's ``center_rewards_coefficient`` (Eq. 2 of
    *Helping or Herding?*): its mean over a batch is TRL's ``lambda * mean((r_c + r_r)^2)``. Returns the
    shape of ``chosen``. -log sigma(x) is computed as softplus(-x), stable for large |x|.
    """
    diff = chosen - rejected
    if margin is not None:
        diff = diff - (margin if diff.dim() == 1 else margin[:, None])
    loss = F.softplus(-diff)
    if center_coef:
        loss = loss + center_coef * (chosen + rejected) ** 2
    return loss


def regression_loss(predicted: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample squared error summed over rated attributes, sum_a (r_a - s_a)^2 (HelpSteer2).

    ``predicted``/``target``: (n, attributes); ``mask``: (n, attributes), 1 where the attribute is rated
    (unrated attributes add nothing). Returns (n,).
    """
    err = (predicted - target) ** 2
    if mask is not None:
        err = err * mask
    return err.sum(dim=-1)


def ordinal_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """p(k | x, y) over K ordered ratings: softmax over the last axis, (n, K) -> (n, K)."""
    return torch.softmax(logits.float(), dim=-1)


def expected_rating(logits: torch.Tensor) -> torch.Tensor:
    """The scalar reward of an ordinal model, sum_k k * p(k) with ratings k = 1..K; (n, K) -> (n,)."""
    probs = ordinal_probabilities(logits)
    ratings = torch.arange(1, probs.shape[-1] + 1, dtype=probs.dtype, device=probs.device)
    return probs @ ratings


def ordinal_preference_probability(logits_a: torch.Tensor, logits_b: torch.Tensor) -> torch.Tensor:
    """P(a > b) = sum_{i>j} p_a(i) p_b(j) + 1/2 sum_i p_a(i) p_b(i): a's rating beats b's, ties halved.

    (n, K), (n, K) -> (n,). From *Learning Ordinal Probabilistic Reward from Preferences* (OPRM): two
    independent rating draws, a tie counted as a coin flip.
    """
    p_a, p_b = ordinal_probabilities(logits_a), ordinal_probabilities(logits_b)
    below = torch.cumsum(p_b, dim=-1) - p_b  # P(b's rating < i)
    return (p_a * (below + 0.5 * p_b)).sum(dim=-1)


def ordinal_pair_loss(logits_chosen: torch.Tensor, logits_rejected: torch.Tensor) -> torch.Tensor:
    """Per-pair -log P(chosen > rejected) under the two rating distributions; (n, K) x 2 -> (n,)."""
    prob = ordinal_preference_probability(logits_chosen, logits_rejected)
    return -torch.log(prob.clamp_min(1e-12))


def region_flooding_loss(logits: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Per-sample -log sum_{k in [low, high]} p(k): pushes probability mass into the annotated region.

    OPRM's Region Flooding Tuning: a quality annotation names a sub-range of ratings (1-based, inclusive);
    ``low``/``high`` are (n,) integer tensors. Rows with ``low == 0`` carry no annotation and give 0.
    """
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    ratings = torch.arange(1, logits.shape[-1] + 1, device=logits.device)[None, :]
    inside = (ratings >= low[:, None]) & (ratings <= high[:, None])
    masked = log_probs.masked_fill(~inside, float("-inf"))
    loss = -torch.logsumexp(masked, dim=-1)
    return torch.where(low > 0, loss, torch.zeros_like(loss))


def poisson_bootstrap_weights(pairs: int, heads: int, generator: torch.Generator) -> torch.Tensor:
    """(pairs, heads) Poisson(1) counts: each head sees its own bootstrap resample (online bagging).

    Online bagging (Oza & Russell) makes K heads on one backbone differ in data as well as initialisation,
    the cheap stand-in for the seed diversity *Helping or Herding?* finds ensembles need.
    """
    return torch.poisson(torch.ones(pairs, heads), generator=generator)
