"""Generative judges: a pairwise judge in logprob mode, a correctness verifier, a criteria judge, a tournament.

Run: ``python examples/judge_reward.py`` (a tiny random Llama stands in for a real judge model, so the
verdicts are meaningless; point ``judge:hf:`` at a real instruct model, or ``judge:openai:`` at a server).
docs/judges.md walks through it; tests/test_judge_docs.py runs ``main``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from rewardlab import Sample, load_reward


def main(workdir: str | Path) -> dict:
    from rewardlab.testing import tiny_llama

    model = tiny_llama(Path(workdir) / "judge", chat_template=True, max_positions=4096)
    question = "What is 2 + 2?"
    good, bad = Sample(question, "2 + 2 = 4."), Sample(question, "It is 5.")

    # Pairwise (MT-Bench pair-v2), verdict probabilities in one forward, both orders averaged (LLMBar's rule)
    pairwise = load_reward(f"judge:hf:{model},protocol=pairwise,mode=logprob,position=both_mean")
    p_good = pairwise.compare(good, bad)  # P(good is better), in [0, 1]
    (detail,) = pairwise.compare_pairs([(good, bad)])

    # Reference-based correctness for RLVR (One Token to Fool's setting): value = P(YES)
    verifier = load_reward(f"judge:hf:{model},protocol=correctness,mode=logprob")
    answers = [Sample(question, r, reference="4") for r in ("4", "5", "Thought process:")]
    p_yes = [s.value for s in verifier.score(answers)]

    # Criteria judging: each criterion a component, the weighted mean the value (generate mode, parsed JSON)
    criteria = Path(workdir) / "criteria.json"
    criteria.write_text(json.dumps([{"name": "correct", "text": "Is the final answer right?", "weight": 2},
                                    {"name": "clear", "text": "Is it easy to follow?", "weight": 1,
                                     "choices": ["no", "partly", "yes"]}]))
    rubric = load_reward(f"judge:hf:{model},protocol=rubric,criteria={criteria},max_tokens=16,failure=nan")
    rubric_score = rubric.score([good])[0]  # a random model writes no JSON: a counted failure with a reason

    # A tournament over one prompt's group: net win rate (wins - losses) / (N - 1), debiased by both orders
    tournament = load_reward(f"judge:hf:{model},protocol=tournament,mode=logprob")
    rates = [s.value for s in tournament.score([good, bad, Sample(question, "four")])]
    return {"p_good": p_good, "agree": detail.agree, "p_yes": p_yes, "rubric_error": rubric_score.error,
            "tournament": rates}


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print(main(tmp))
