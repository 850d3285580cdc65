"""ProcessBench for any process reward: per-subset error / correct accuracy and F1, the threshold chosen on
a dev split, the F1-vs-threshold curve (JSON + PNG) and step AUROC.

    python bench/prm_processbench.py --reward process:runs/prm --out runs/pb          # all subsets
    python bench/prm_processbench.py --reward process:runs/prm --subsets gsm8k --quick

The same metric runs inside ``rewardlab eval`` as the ``processbench`` benchmark; this script adds the
figure and the per-subset table for docs.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reward", required=True, help="a process reward spec, e.g. process:runs/prm,agg=min")
    parser.add_argument("--out", required=True, help="folder for processbench.json and f1_vs_threshold.png")
    parser.add_argument("--subsets", default="gsm8k,math,olympiadbench,omnimath", help="comma-separated")
    parser.add_argument("--limit", type=int, default=None, help="items per subset (hash sample)")
    parser.add_argument("--quick", action="store_true", help="40 items per subset")
    parser.add_argument("--threshold", type=float, default=None, help="fixed tau instead of the dev split")
    parser.add_argument("--dev-fraction", type=float, default=0.3)
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args()

    from rewardlab.evaluate.processbench import evaluate_processbench, plot_f1_curve
    from rewardlab.io import write_json
    from rewardlab.rewards.base import load_reward

    reward = load_reward(args.reward)
    result = evaluate_processbench(reward, args.data_root, args.subsets.split(","),
                                   args.limit or (40 if args.quick else None), args.dev_fraction, args.threshold)
    out = Path(args.out)
    provenance = reward.provenance() if hasattr(reward, "provenance") else {}
    write_json(out / "processbench.json", {"reward": args.reward, "provenance": provenance, **result.to_dict()})
    plot_f1_curve(result, out / "f1_vs_threshold.png")
    print(f"tau = {result.threshold:.4g} ({result.threshold_rule}); dev F1 {result.dev_f1:.3f}")
    print(f"{'subset':<14}{'error_acc':>10}{'correct_acc':>12}{'F1':>8}{'AUROC':>8}{'n_err':>7}{'n_ok':>6}{'failed':>8}")
    for name, m in result.subsets.items():
        print(f"{name:<14}{m['error_acc']:>10.3f}{m['correct_acc']:>12.3f}{m['f1']:>8.3f}"
              f"{result.step_auroc[name]:>8.3f}{m['n_error']:>7}{m['n_correct']:>6}{m['failed']:>8}")
    avg = result.average
    print(f"{'average':<14}{avg['error_acc']:>10.3f}{avg['correct_acc']:>12.3f}{avg['f1']:>8.3f}")
    for name, why in result.missing_subsets.items():
        print(f"missing subset {name}: {why}")
    print(f"wrote {out / 'processbench.json'} and {out / 'f1_vs_threshold.png'}")
    return 0 if not math.isnan(avg["f1"]) else 1


if __name__ == "__main__":
    sys.exit(main())
