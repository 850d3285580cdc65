"""Scoring a validated composite (see `rewardlab.rewards.composite`) over one batch of samples.

Every part is computed at most once per sample, on demand, for the sample indices that need it: a gate
asks for its ``then`` part only on the indices that pass, so the ``then`` reward never sees the others.
Errors travel with values: a NaN carries the failing part's name and reason up to the total.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rewardlab.rewards.composite import Node, combine
from rewardlab.rewards.transforms import TransformStep, par
from rewardlab.types import Sample, Score


class Evaluator:
    """Holds, per part, the values computed so far for this batch (NaN and ``done=False`` elsewhere)."""

    def __init__(self, nodes: dict[str, Node], samples: Sequence[Sample]):
        self.nodes, self.samples = nodes, list(samples)
        n = len(self.samples)
        self.values = {name: np.full(n, np.nan) for name in nodes}
        self.done = {name: np.zeros(n, dtype=bool) for name in nodes}
        self.errors: dict[str, list[str | None]] = {name: [None] * n for name in nodes}
        self.steps: dict[str, list] = {name: [None] * n for name in nodes}
        self.extras: dict[str, list[tuple[dict, str | None]]] = {name: [({}, None)] * n for name in nodes}

    def ensure(self, name: str, idx: np.ndarray) -> None:
        """Compute part ``name`` (with its transforms) on the indices ``idx`` not computed yet."""
        need = idx[~self.done[name][idx]]
        if need.size == 0:
            return
        node = self.nodes[name]
        values, errors, steps = self.compute(node, need)
        for step in node.transforms:
            before = values
            if step.kind == "par":
                values = self.par_values(node, need, step, values, errors)
            else:
                values, steps = step.apply(values, [self.samples[i].response for i in need], steps)
            for j in np.flatnonzero(np.isnan(values) & ~np.isnan(before)):
                errors[j] = errors[j] or f"transform {step.path} gave no value (does the part have step rewards?)"
        self.values[name][need] = values
        self.done[name][need] = True
        for j, i in enumerate(need):
            self.errors[name][i] = errors[j] if np.isnan(values[j]) else None
            if steps is not None:
                self.steps[name][i] = steps[j]

    def compute(self, node: Node, need: np.ndarray) -> tuple[np.ndarray, list[str | None], list | None]:
        """A part's values on ``need`` before its own transforms: ``(k,)`` values, errors, step lists."""
        if node.op == "reward":
            scores = node.reward.score([self.samples[i] for i in need])
            if len(scores) != len(need):
                raise RuntimeError(f"{node.spec} returned {len(scores)} scores for {len(need)} samples")
            for j, i in enumerate(need):
                self.extras[node.name][i] = (dict(scores[j].components), scores[j].rationale)
            values = np.array([s.value if s.ok else np.nan for s in scores], dtype=np.float64)
            return values, [s.failure_reason for s in scores], \
                [s.steps for s in scores]
        if node.op == "gate":
            return self.gate(node, need)
        for operand in node.operands:
            self.ensure(operand, need)
        columns = np.stack([self.values[o][need] for o in node.operands], axis=1)
        values = combine(node.op, columns, node.weights, node.params.get("agg", "mean"), node.params.get("k", 1.0))
        steps = [self.steps[node.operands[0]][i] for i in need] if node.op == "alias" else None
        return values, self.operand_errors(node.operands, need), steps

    def gate(self, node: Node, need: np.ndarray) -> tuple[np.ndarray, list[str | None], None]:
        gate, then = node.operands
        self.ensure(gate, need)
        g = self.values[gate][need]
        passed = g >= node.params["threshold"]  # NaN compares False: handled below
        self.ensure(then, need[passed])
        values = np.where(passed, self.values[then][need], node.params["otherwise"])
        values[np.isnan(g)] = np.nan
        errors = [None] * len(need)
        for j, i in enumerate(need):
            if np.isnan(g[j]):
                errors[j] = f"{gate}: {self.errors[gate][i]}"
            elif passed[j] and np.isnan(values[j]):
                errors[j] = f"{then}: {self.errors[then][i]}"
        return values, errors, None

    def operand_errors(self, operands: list[str], need: np.ndarray) -> list[str | None]:
        errors: list[str | None] = []
        for i in need:
            failed = [o for o in operands if np.isnan(self.values[o][i])]
            errors.append(f"{failed[0]}: {self.errors[failed[0]][i]}" if failed else None)
        return errors

    def par_values(self, node: Node, need: np.ndarray, step: TransformStep, values: np.ndarray,
                   errors: list[str | None]) -> np.ndarray:
        """PAR: sigmoid(r(x, y) - r(x, y_ref)), the reference responses scored by this same part.

        PAR is the first transform of a part (checked at load), so both sides are the part's raw values.
        Several references per sample (a list in metadata) average their sigmoids.
        """
        key = step.params["reference_key"]
        ref_samples, owners = [], []
        for j, i in enumerate(need):
            sample = self.samples[i]
            refs = sample.metadata.get(key)
            refs = [refs] if isinstance(refs, str) else list(refs or [])
            if not refs:
                errors[j] = errors[j] or f"{step.path}: the sample has no metadata[{key!r}] reference response"
            for ref in refs:
                ref_samples.append(Sample(sample.prompt, str(ref), reference=sample.reference,
                                          metadata=sample.metadata))
                owners.append(j)
        result = np.full(len(need), np.nan)
        if ref_samples:
            ref_values = Evaluator(self.nodes, ref_samples).compute(node, np.arange(len(ref_samples)))[0]
            owner = np.asarray(owners)
            for j in range(len(need)):
                mine = ref_values[owner == j]
                if mine.size:
                    result[j] = par(values[j : j + 1], mine[None, :])[0]
        return result

    def scores(self) -> list[Score]:
        everything = np.arange(len(self.samples))
        self.ensure("total", everything)
        out = []
        for i in everything:
            components: dict[str, float] = {}
            notes = []
            for name, node in self.nodes.items():
                if name == "total" or not self.done[name][i]:
                    continue
                components[name] = float(self.values[name][i])
                if node.op == "reward":
                    extra, rationale = self.extras[name][i]
                    components.update({f"{name}.{k}": float(v) for k, v in extra.items()})
                    if rationale:
                        notes.append(f"{name}: {rationale}")
            value = float(self.values["total"][i])
            error = self.errors["total"][i] if value != value else None
            out.append(Score(value=value, steps=self.steps["total"][i], components=components,
                             rationale=" | ".join(notes) or None, error=error))
        return out
