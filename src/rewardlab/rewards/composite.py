"""Composite rewards from a YAML spec: weighted sums, min / max / product / mean, gating, ensembles, and
per-part transforms; every part is reported as a score component.

```yaml
rewards:                       # named parts: a reward spec, or one operator
  correct: rule:math
  format: rule:format
  rm:
    reward: classifier:minilm
    transforms: [{zscore: {mean: 0.12, std: 0.4}}, {clip: [-3, 3]}]
  rm_if_correct: {gate: correct, threshold: 1, then: rm, otherwise: 0}
  judges: {ensemble: [rm, rule:bleu], agg: mean_minus_std, k: 1.0}
total:                         # the output: an operator, or the name of a part
  weighted_sum: {correct: 1.0, format: 0.2, rm_if_correct: 0.5}
```

Operators: ``reward: SPEC``; ``weighted_sum: {part: weight}``; ``min`` / ``max`` / ``product`` /
``mean: [parts]``; ``ensemble: [parts]`` with ``agg: mean | min | mean_minus_std`` and ``k``;
``gate: part`` with ``threshold`` (default 0.5), ``then: part``, ``otherwise`` (default 0). Operands name
parts, or are inline specs (``rule:bleu``, ``other.yaml``). Any part may carry ``transforms`` (see
`rewardlab.rewards.transforms`: zscore, clip, scale, shift, par, ppo_c, length_penalty, step_clip, step_delta).

Everything is checked when the spec loads: an unknown part or family, a cycle (through parts or through
nested YAML files), a weight that is not a finite number, or an unknown key fails with the file and the
key path (``total.weighted_sum.corect``). At score time a gate's ``then`` part is scored only for the
samples that pass, so an expensive model behind a cheap check runs only where it matters. A part that
fails for a sample (NaN) makes every value built on it NaN, with the part's error: never a silent zero.
"""

from __future__ import annotations

import difflib
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.rewards.transforms import TransformSpecError, TransformStep, parse_transforms
from rewardlab.types import Sample, Score

OPERATORS = {"reward", "weighted_sum", "min", "max", "product", "mean", "ensemble", "gate"}
_OPTIONS = {"ensemble": {"agg", "k"}, "gate": {"threshold", "then", "otherwise"}}
_LOADING = threading.local()  # YAML files being loaded on this thread, to catch include cycles


class CompositeSpecError(ValueError):
    """A bad composite spec; ``path`` is the key path of the offending entry."""

    def __init__(self, source: str, path: str, message: str):
        self.source, self.path = source, path
        super().__init__(f"{source}: {path}: {message}")


@dataclass
class Node:
    name: str
    path: str
    op: str
    spec: str | None = None
    operands: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    transforms: list[TransformStep] = field(default_factory=list)
    reward: Any = None


def _is_spec(text: str) -> bool:
    return ":" in text or text.endswith((".yaml", ".yml"))


def _number(value: Any, source: str, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CompositeSpecError(source, path, f"must be a finite number, got {value!r}")
    return float(value)


class SpecParser:
    """Turns the YAML mapping into validated `Node`s (no reward is built until all checks pass)."""

    def __init__(self, data: Any, source: str, base_dir: Path):
        self.source, self.base_dir = source, base_dir
        if not isinstance(data, dict):
            raise CompositeSpecError(source, "(root)", "a composite spec is a mapping with 'rewards' and 'total'")
        unknown = set(data) - {"rewards", "total", "name"}
        if unknown:
            raise CompositeSpecError(source, sorted(unknown)[0], "unknown key; known: name, rewards, total")
        if "total" not in data:
            raise CompositeSpecError(source, "total", "missing: say which part (or operator) is the reward")
        parts = data.get("rewards") or {}
        if not isinstance(parts, dict):
            raise CompositeSpecError(source, "rewards", "must map part names to specs or operators")
        self.nodes: dict[str, Node] = {}
        self.part_names = [str(k) for k in parts]
        for name, value in parts.items():
            self.nodes[str(name)] = self.parse_node(str(name), value, f"rewards.{name}")
        if "total" in self.nodes:
            raise CompositeSpecError(source, "rewards.total", "'total' is reserved for the output")
        self.nodes["total"] = self.parse_node("total", data["total"], "total")
        self.resolve()
        self.check_cycles()

    def parse_node(self, name: str, value: Any, path: str) -> Node:
        if isinstance(value, str):
            if _is_spec(value):
                return Node(name, path, "reward", spec=self._spec(value))
            return Node(name, path, "alias", operands=[value], params={"operand_paths": [path]})
        if not isinstance(value, dict):
            raise CompositeSpecError(self.source, path, f"expected a spec string or a mapping, got {value!r}")
        ops = [k for k in value if k in OPERATORS]
        if len(ops) != 1:
            found = f"found {ops}" if ops else "found none"
            raise CompositeSpecError(self.source, path, f"needs exactly one of {sorted(OPERATORS)}; {found}")
        op = ops[0]
        allowed = {op, "transforms"} | _OPTIONS.get(op, set())
        extra = sorted(set(value) - allowed)
        if extra:
            raise CompositeSpecError(self.source, f"{path}.{extra[0]}",
                                     f"unknown key for {op}; known: {sorted(allowed)}")
        node = Node(name, path, op)
        try:
            node.transforms = parse_transforms(value.get("transforms"), f"{path}.transforms")
        except TransformSpecError as exc:
            raise CompositeSpecError(self.source, exc.path, exc.message) from None
        self._fill(node, value, f"{path}.{op}")
        return node

    def _fill(self, node: Node, value: dict, path: str) -> None:
        body = value[node.op]
        paths: list[str] = []
        if node.op == "reward":
            if not isinstance(body, str):
                raise CompositeSpecError(self.source, path, "must be a reward spec string")
            node.spec = self._spec(body)
        elif node.op == "weighted_sum":
            if not isinstance(body, dict) or not body:
                raise CompositeSpecError(self.source, path, "must map parts to weights")
            for key, weight in body.items():
                node.operands.append(str(key))
                node.weights.append(_number(weight, self.source, f"{path}.{key}"))
                paths.append(f"{path}.{key}")
        elif node.op == "gate":
            if "then" not in value:
                raise CompositeSpecError(self.source, f"{node.path}.then", "missing: the part the gate applies")
            node.operands = [str(body), str(value["then"])]
            paths = [path, f"{node.path}.then"]
            node.params["threshold"] = _number(value.get("threshold", 0.5), self.source, f"{node.path}.threshold")
            node.params["otherwise"] = _number(value.get("otherwise", 0.0), self.source, f"{node.path}.otherwise")
        else:
            if not isinstance(body, list) or not body:
                raise CompositeSpecError(self.source, path, "must be a non-empty list of parts")
            node.operands = [str(x) for x in body]
            paths = [f"{path}[{i}]" for i in range(len(body))]
            if node.op == "ensemble":
                agg = value.get("agg", "mean")
                if agg not in {"mean", "min", "mean_minus_std"}:
                    raise CompositeSpecError(self.source, f"{node.path}.agg",
                                             f"{agg!r} is not mean, min or mean_minus_std")
                node.params["agg"] = agg
                node.params["k"] = _number(value.get("k", 1.0), self.source, f"{node.path}.k")
                if node.params["k"] < 0:
                    raise CompositeSpecError(self.source, f"{node.path}.k", "must be >= 0")
        node.params["operand_paths"] = paths

    def _spec(self, spec: str) -> str:
        """Relative YAML paths are relative to the spec file's folder."""
        if spec.endswith((".yaml", ".yml")) and ":" not in spec.split("/")[0]:
            candidate = self.base_dir / spec
            return str(candidate) if candidate.exists() else spec
        return spec

    def resolve(self) -> None:
        """Operands that are inline specs become anonymous leaf nodes; unknown names fail here."""
        for node in list(self.nodes.values()):
            for operand, path in zip(node.operands, node.params.get("operand_paths", [])):
                if operand in self.nodes and operand != "total":
                    continue
                if _is_spec(operand):
                    self.nodes.setdefault(operand, Node(operand, path, "reward", spec=self._spec(operand)))
                    continue
                hint = difflib.get_close_matches(operand, self.part_names, n=1)
                suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
                raise CompositeSpecError(self.source, path, f"unknown reward {operand!r}{suggestion} "
                                         f"Parts: {', '.join(self.part_names) or '(none)'}")

    def check_cycles(self) -> None:
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = " -> ".join([*trail[trail.index(name):], name])
                raise CompositeSpecError(self.source, self.nodes[name].path, f"cycle: {cycle}")
            state[name] = 1
            for operand in self.nodes[name].operands:
                visit(operand, [*trail, name])
            state[name] = 2

        for name in self.nodes:
            visit(name, [])


def build_leaves(nodes: dict[str, Node], source: str) -> None:
    """Load every leaf's reward; a failure names the leaf's key path (unknown family, bad options)."""
    from rewardlab.rewards.base import load_reward

    for node in nodes.values():
        if node.op == "reward":
            try:
                node.reward = load_reward(node.spec)
            except CompositeSpecError:
                raise
            except Exception as exc:
                raise CompositeSpecError(source, node.path, f"cannot load {node.spec!r}: {exc}") from exc


class CompositeReward:
    """A composite reward; build it with `from_spec` (a YAML file) or `CompositeReward.from_dict`."""

    def __init__(self, nodes: dict[str, Node], name: str):
        self.nodes, self.name = nodes, name

    @classmethod
    def from_dict(cls, data: Any, source: str = "<composite>", base_dir: Path | None = None) -> CompositeReward:
        parser = SpecParser(data, source, base_dir or Path.cwd())
        build_leaves(parser.nodes, source)
        return cls(parser.nodes, str(data.get("name", source)))

    @property
    def executes_code(self) -> bool:
        """True when a part runs the sample's code (``rule:code``): a server must opt in to serve it."""
        return any(getattr(node.reward, "executes_code", False) for node in self.nodes.values())

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        from rewardlab.rewards.composite_eval import Evaluator

        return Evaluator(self.nodes, list(samples)).scores()

    def __repr__(self) -> str:
        return f"CompositeReward({self.name!r}, parts={[n for n in self.nodes if n != 'total']})"


def from_spec(argument: str) -> CompositeReward:
    """Load a composite YAML file (entry point of the ``composite`` family)."""
    import yaml

    path = Path(argument).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"composite spec {path} does not exist")
    key = str(path.resolve())
    stack: list[str] = getattr(_LOADING, "stack", [])
    if key in stack:
        chain = " -> ".join([*stack[stack.index(key):], key])
        raise CompositeSpecError(str(path), "(file)", f"include cycle: {chain}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise CompositeSpecError(str(path), where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    _LOADING.stack = [*stack, key]
    try:
        return CompositeReward.from_dict(data, source=str(path), base_dir=path.parent)
    finally:
        _LOADING.stack = stack


def combine(op: str, columns: np.ndarray, weights: Sequence[float] = (), agg: str = "mean",
            k: float = 1.0) -> np.ndarray:
    """The operators' arithmetic on ``(n, m)`` operand values -> ``(n,)``; NaN in any operand gives NaN."""
    if op == "weighted_sum":
        return columns @ np.asarray(weights, dtype=np.float64)
    if op in {"min", "max", "product", "mean"}:
        return {"min": np.min, "max": np.max, "product": np.prod, "mean": np.mean}[op](columns, axis=1)
    if op == "ensemble":
        if agg == "min":
            return columns.min(axis=1)
        mean = columns.mean(axis=1)
        return mean - k * columns.std(axis=1) if agg == "mean_minus_std" else mean
    if op == "alias":
        return columns[:, 0]
    raise ValueError(f"unknown operator {op!r}")
