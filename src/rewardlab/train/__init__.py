"""Training reward models: recipes that read top to bottom, and the components they call.

Recipes (``rewardlab train NAME``; `rewardlab.cli.train.RECIPES` maps each name to its module):

- ``bt`` (`rewardlab.train.bt`): Bradley-Terry pairs, margin and centering terms, K-head ensembles.
- ``regression`` (`rewardlab.train.regression`): one head per rated attribute, MSE.
- ``ordinal`` (`rewardlab.train.ordinal`): a distribution over K ratings (OPRM), reward = its expectation.

A recipe module exposes ``Config`` (a `rewardlab.train.config.TrainConfig` subclass: the CLI flags, YAML
keys and Python arguments) and ``main(config) -> dict`` (the run record, also saved as
``OUT/rewardlab_train.json``). Adding one is a module plus one line in ``RECIPES``.

Components: `config` (schema, YAML), `records` (checked loading, splits, accuracy), `collate`
(encoding, token-budget micro-batches, the one-forward pair pass with shared prefixes), `losses`,
`heads` (logits -> reward readout), `runtime` (accelerate, model, optimiser, saving), `loop` (steps,
checkpoints, resume), `checkpoint`, `monitor`. Nothing here is imported by ``import rewardlab``.
"""
