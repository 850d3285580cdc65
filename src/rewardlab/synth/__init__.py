"""The embedded world: generated multi-step arithmetic word problems with exact gold labels, their
corruptions with a known first wrong step, a tokenizer and a tiny causal policy trained on them.

It exists so that every part of rewardlab (training, evaluation, best-of-N, PRMs, implicit rewards) has
real data with exact labels and a real generating policy without any download. Modules:

- `world`: problems, gold solutions, answer extraction and the exact verifier (`is_correct`).
- `corrupt`: wrong solutions with a known first wrong step.
- `export`: pairwise, best-of-N and step-labelled rows in rewardlab's standard formats.
- `tokenizer`, `policy`: the tiny policy (train, load, generate).

The ``rewardlab demo`` pipeline that drives them lives above, in `rewardlab.demo`; nothing here imports
`rewardlab.train` or `rewardlab.evaluate`.
"""
