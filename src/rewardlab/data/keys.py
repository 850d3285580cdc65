"""`FieldKeys`: which column holds what, so any dataset loads without being rewritten first.

Defaults follow TRL's dataset vocabulary (``prompt``, ``chosen``, ``rejected``, ``completion``, ``labels``)
so HF datasets load as they are. The CLI's ``--prompt-key`` etc. map one to one onto these fields.
Aliases are fallbacks tried, in order, only when the main key is absent (``problem`` is ProcessBench's
prompt, ``completion`` is TRL's response); errors name the main key and its aliases.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldKeys:
    """Field names for every supported format (see `rewardlab.data.adapters` for the formats)."""

    prompt_key: str = "prompt"
    chosen_key: str = "chosen"
    rejected_key: str = "rejected"
    response_key: str = "response"
    responses_key: str = "responses"
    correct_key: str = "correct"
    scores_key: str = "scores"
    steps_key: str = "steps"
    labels_key: str = "labels"
    label_key: str = "label"
    first_error_key: str = "first_error"
    final_correct_key: str = "final_answer_correct"
    messages_key: str = "messages"
    subset_key: str = "subset"
    margin_key: str = "margin"
    id_key: str = "id"
    reference_key: str = "reference"
    prompt_aliases: tuple[str, ...] = ("problem", "question")
    response_aliases: tuple[str, ...] = ("completion",)
    final_correct_aliases: tuple[str, ...] = ("final_correct",)

    def prompt_names(self) -> tuple[str, ...]:
        return (self.prompt_key, *self.prompt_aliases)

    def response_names(self) -> tuple[str, ...]:
        return (self.response_key, *self.response_aliases)

    def step_label_names(self) -> tuple[str, ...]:
        """Keys any one of which makes a ``steps`` row step-labelled."""
        return (self.labels_key, self.label_key, self.first_error_key)
