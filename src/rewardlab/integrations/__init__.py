"""Drop-ins for RL trainers, so a rewardlab reward plugs into them unchanged.

- `rewardlab.integrations.trl`: ``reward_func(spec)``, a callable with TRL's ``reward_funcs`` signature
  (sync or async) for ``GRPOTrainer`` / ``RLOOTrainer``.
- `rewardlab.integrations.verl`: ``compute_score(data_source, solution_str, ground_truth, extra_info)``, a
  verl ``custom_reward_function``.
- OpenRLHF talks HTTP: serve the reward with ``rewardlab serve`` and pass ``--remote_rm_url``.

Neither TRL nor verl is imported here: both modules work on plain Python values.
"""
