"""``annotate`` throughput vs ``score`` on the same data: the curation layer (grouping, RAFT and DPO
selection, three output files, provenance) should cost little beyond scoring itself (the issue asks for
annotate within 10% of score).

Same reward (MiniLM with a 1-label head, embedded: ``classifier:minilm``), same responses: a best-of-N
file of world problems with gold solutions and corruptions (``rewardlab.synth``), 4 responses per prompt.
Both paths go through ``rewardlab.scoring.score_samples`` with the same chunk size; ``annotate`` also
checkpoints chunks (it is resumable; ``score`` here is timed with the same checkpointing, as the CLI does)
and writes scored/sft/dpo JSONL. Each is timed as the median of ``--repeats`` runs after one warm-up.
Prints responses/s of each and the ratio. Not a test: timings are printed and recorded, never asserted.

    python bench/annotate_vs_score.py --quick        # smoke: 48 prompts, no record
    python bench/annotate_vs_score.py                # the recorded run: 500 prompts (2,000 responses)
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from _record import default_out, write_record  # on import it notes the load average before the run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reward", default="classifier:minilm")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    prompts = 48 if args.quick else 500
    repeats = 1 if args.quick else args.repeats

    from rewardlab.rewards.base import load_reward
    from rewardlab.scoring import score_samples, scoring_job
    from rewardlab.search.annotate import AnnotateConfig, Group, annotate
    from rewardlab.synth.corrupt import corrupt_all
    from rewardlab.synth.world import generate_problems
    from rewardlab.types import Sample

    groups = []
    for i, p in enumerate(generate_problems(prompts, seed=21, difficulty="easy")):
        wrong = [c.solution for c in corrupt_all(p, random.Random(i))][:3]
        responses = [p.solution, *wrong]
        groups.append(Group(p.id, p.prompt, responses, [None] * len(responses)))
    samples = [Sample(g.prompt, r, metadata={"id": g.id}) for g in groups for r in g.responses]
    reward = load_reward(args.reward)
    work = Path(tempfile.mkdtemp(prefix="annotate-bench-"))

    def run_score() -> None:
        with scoring_job(work / "score.chunks", identity=args.reward) as job:
            score_samples(reward, samples, show_progress=False, job=job)

    def run_annotate() -> None:
        annotate(reward, groups, work / "annotate", AnnotateConfig(sft_top_k=1), spec=args.reward,
                 show_progress=False)

    def timed(fn) -> float:
        fn()  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    score_s, annotate_s = timed(run_score), timed(run_annotate)
    figures = {"reward": args.reward, "prompts": prompts, "responses": len(samples), "repeats": repeats,
               "score_seconds": round(score_s, 3), "annotate_seconds": round(annotate_s, 3),
               "score_responses_per_s": round(len(samples) / score_s, 1),
               "annotate_responses_per_s": round(len(samples) / annotate_s, 1),
               "annotate_over_score_throughput": round(score_s / annotate_s, 3)}
    print(f"{len(samples)} responses, {args.reward}: score {figures['score_responses_per_s']} /s, annotate "
          f"{figures['annotate_responses_per_s']} /s; annotate throughput = "
          f"{figures['annotate_over_score_throughput']:.3f} x score")
    write_record(args.out or default_out("annotate_vs_score", args.quick), "annotate_vs_score", figures)


if __name__ == "__main__":
    main()
