"""Metric parity with reward-bench itself: the same score arrays go through reward-bench's own scoring
functions (run in its own interpreter, since rewardbench 0.1.4 pins transformers 4.51) and through ours,
and the results must be identical.

Set ``REWARDBENCH_PYTHON`` to a Python that has ``rewardbench==0.1.4`` installed (``bash
bench/setup_rewardbench_venv.sh DIR`` creates one and prints its path); the test is skipped, saying so, where it
is absent. Compared:
- per-subset strict accuracy (reward-bench's classifier rule: ``1 if chosen > rejected else 0``) and
  ``rewardbench.utils.calculate_scores_per_section`` with its ``EXAMPLE_COUNTS`` / ``SUBSET_MAPPING``;
- RewardBench 2 best-of-4 with the tie rule: ``rewardbench.utils.reroll_and_score_dataset``;
- the RewardBench 2 Ties composite: ``rewardbench.utils.process_single_model``.
Scores are small integers / one-decimal floats so that ties, which the rules are about, happen often.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rewardlab.evaluate import metrics as m
from rewardlab.evaluate import rewardbench as rb

PYTHON = os.environ.get("REWARDBENCH_PYTHON")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PYTHON or not Path(PYTHON).exists(),
                       reason="REWARDBENCH_PYTHON is not set to an interpreter with rewardbench==0.1.4 "
                              "(create one with bench/setup_rewardbench_venv.sh)"),
]

PEER = r'''
import json, sys, warnings
warnings.filterwarnings("ignore")
from datasets import Dataset
from rewardbench.constants import EXAMPLE_COUNTS, SUBSET_MAPPING
from rewardbench.utils import calculate_scores_per_section, process_single_model, reroll_and_score_dataset

data = json.load(open(sys.argv[1]))
accuracy = {}
for subset, pairs in data["rb1"].items():
    results = []
    for chosen, rejected in pairs:  # rewardbench.py, classifier path
        results.append(1) if chosen > rejected else results.append(0)
    accuracy[subset] = sum(results) / len(results)
sections = calculate_scores_per_section(EXAMPLE_COUNTS, SUBSET_MAPPING, accuracy)

rows, sizes = [], []
for gid, (subset, scores) in enumerate(data["rb2"]):
    sizes.append(len(scores))
    rows += [{"id": str(gid), "subset": subset, "text": f"t{i}", "scores": s} for i, s in enumerate(scores)]
rb2 = reroll_and_score_dataset(Dataset.from_list(rows), sizes)

ties = Dataset.from_list([{"id": r["id"], "scores": r["scores"], "num_correct": r["num_correct"]}
                          for r in data["ties"]])
_, ties_score = process_single_model(ties)
print(json.dumps({"accuracy": accuracy, "sections": sections, "rb2": [float(x) for x in rb2["results"]],
                  "ties": float(ties_score), "counts": EXAMPLE_COUNTS, "mapping": SUBSET_MAPPING}))
'''


def _inputs(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    rb1 = {s: rng.integers(0, 5, size=(int(rng.integers(5, 40)), 2)).astype(float).tolist()
           for s in rb.EXAMPLE_COUNTS}
    rb2 = [(["Focus", "Math"][i % 2], rng.integers(0, 4, size=4).astype(float).tolist()) for i in range(60)]
    ties = []
    for pid in range(25):
        kinds = ["ref", "tied"] if pid % 6 else (["ref"] if pid % 12 else ["tied"])  # a few unpaired prompts
        for kind in kinds:
            n_correct = 1 if kind == "ref" else int(rng.integers(2, 5))
            n_wrong = int(rng.integers(1, 4))
            scores = np.round(rng.normal(size=n_correct + n_wrong), 1)
            if pid == 7 and kind == "tied":
                scores[:n_correct] = scores[0]  # zero spread among the correct answers
            ties.append({"id": f"{kind}:{pid}", "scores": scores.tolist(), "num_correct": n_correct})
    return {"rb1": rb1, "rb2": rb2, "ties": ties}


def test_metrics_match_reward_bench(tmp_path):
    data = _inputs()
    (tmp_path / "in.json").write_text(json.dumps(data))
    (tmp_path / "peer.py").write_text(PEER)
    done = subprocess.run([PYTHON, str(tmp_path / "peer.py"), str(tmp_path / "in.json")], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    peer = json.loads(done.stdout.strip().splitlines()[-1])

    # the weights are the same data
    assert peer["counts"] == rb.EXAMPLE_COUNTS and peer["mapping"] == rb.SUBSET_MAPPING

    ours_acc = {s: m.pairwise_accuracy(np.array(p)[:, 0], np.array(p)[:, 1])["strict"].value
                for s, p in data["rb1"].items()}
    assert ours_acc == peer["accuracy"]
    ours_sections = {k: v["score"] for k, v in rb.section_scores(ours_acc).items()}
    assert ours_sections.keys() == peer["sections"].keys()
    for section, value in peer["sections"].items():
        assert ours_sections[section] == pytest.approx(value, abs=1e-12), section

    ours_rb2 = m.rewardbench2_credit(np.array([scores for _, scores in data["rb2"]]))
    assert ours_rb2.tolist() == peer["rb2"]
    assert {0.25, 1 / 3, 0.5} & set(peer["rb2"])  # the inputs really exercise the tie rule

    groups = []
    for row in data["ties"]:
        kind, _, pid = row["id"].partition(":")
        k = row["num_correct"]
        groups.append(rb.TiesGroup(kind, pid, tuple(row["scores"][:k]), tuple(row["scores"][k:])))
    assert rb.ties_score(groups)["score"] == pytest.approx(peer["ties"], abs=1e-12)
