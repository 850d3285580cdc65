"""Structured-output rules: JSON(-schema) validity and tool-call partial credit.

Tool-call credit follows ToolRL (*ToolRL: Reward is All Tool Learning Needs*, Sec. 3.3): a
frequency-aware Jaccard score over tool names, plus for each gold call the best still-unmatched predicted
call of the same name, credited with the Jaccard score of its parameter names and one point per parameter
value that equals the gold one. The sum is divided by its maximum, 1 + sum(1 + #params), giving [0, 1];
``scale=toolrl`` maps that onto ToolRL's [-3, 3].
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from rewardlab.rewards.rules.base import Check, Options, reference_of, wrong
from rewardlab.types import Sample, Score

_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL)
_TOOL_BLOCK = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)


def parse_json(text: str) -> Any:
    """The JSON value in a response: a fenced ```json block if there is one, else the whole text."""
    fenced = _FENCE.findall(text)
    return json.loads(fenced[-1] if fenced else text.strip())


def load_schema(path: str) -> dict:
    """Read and check a JSON Schema file; every problem names the file."""
    import jsonschema

    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"rule:json_schema: schema file {file} does not exist")
    try:
        schema = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{file}:{exc.lineno}: schema is not valid JSON: {exc.msg}") from None
    validator = jsonschema.validators.validator_for(schema)
    try:
        validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(map(str, exc.path)) or "(root)"
        raise ValueError(f"{file}: invalid JSON Schema at {where}: {exc.message}") from None
    return schema


def make_json_schema(opts: Options) -> Check:
    """``rule:json_schema[,schema=FILE]``: 1 when the response is JSON (valid against the schema, if given)."""
    import jsonschema

    path = opts.text("schema")
    schema = load_schema(path) if path else None
    validator = jsonschema.validators.validator_for(schema)(schema) if schema is not None else None

    def check(sample: Sample) -> Score:
        try:
            value = parse_json(sample.response)
        except json.JSONDecodeError as exc:
            return wrong(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", json=0.0)
        if validator is None:
            return Score(1.0, components={"json": 1.0}, rationale="valid JSON")
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is not None:
            where = "/".join(map(str, error.absolute_path)) or "(root)"
            return wrong(f"JSON fails the schema at {where}: {error.message}", json=1.0, schema=0.0)
        return Score(1.0, components={"json": 1.0, "schema": 1.0}, rationale="valid against the schema")

    return check


def parse_tool_calls(text: str) -> list[dict[str, Any]]:
    """Tool calls as ``[{"name", "arguments": dict}]`` from ``<tool_call>`` blocks or plain JSON.

    A block may hold one JSON object per line or a JSON list; ``parameters`` is read as ``arguments``,
    and OpenAI-style arguments given as a JSON string are decoded. Raises ValueError when unparseable.
    """
    blocks = _TOOL_BLOCK.findall(text)
    values: list[Any] = []
    for chunk in blocks or [text]:
        chunk = chunk.strip()
        try:
            values.append(parse_json(chunk))
        except json.JSONDecodeError:
            try:
                values.extend(json.loads(line) for line in chunk.splitlines() if line.strip())
            except json.JSONDecodeError as exc:
                raise ValueError(f"tool call is not JSON: {exc.msg}") from None
    calls = []
    for value in values:
        for call in value if isinstance(value, list) else [value]:
            if isinstance(call, dict) and "function" in call and isinstance(call["function"], dict):
                call = call["function"]
            if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                raise ValueError(f"tool call without a string 'name': {json.dumps(call)[:80]}")
            args = call.get("arguments", call.get("parameters", {}))
            if isinstance(args, str):
                args = json.loads(args) if args.strip() else {}
            if not isinstance(args, dict):
                raise ValueError(f"tool call {call['name']!r}: arguments must be an object")
            calls.append({"name": call["name"], "arguments": args})
    return calls


def jaccard_counts(a: list, b: list) -> float:
    """Multiset Jaccard: |A ∩ B| / |A ∪ B| counting repeats; 1 for two empty lists."""
    if a == b:
        return 1.0
    ca, cb = Counter(a), Counter(b)
    inter = sum((ca & cb).values())
    union = len(a) + len(b) - inter
    return inter / union if union else 0.0


def tool_call_credit(gold: list[dict], pred: list[dict]) -> dict[str, float]:
    """ToolRL partial credit; returns the parts and ``value`` = total / maximum in [0, 1]."""
    names = jaccard_counts([g["name"] for g in gold], [p["name"] for p in pred])
    keys = values = 0.0
    maximum = 1.0
    used: set[int] = set()
    for g in gold:
        maximum += 1 + len(g["arguments"])
        best, best_i = (0.0, 0.0), -1
        for i, p in enumerate(pred):
            if i in used or p["name"] != g["name"]:
                continue
            k = jaccard_counts(list(g["arguments"]), list(p["arguments"]))
            v = float(sum(1 for key, val in g["arguments"].items() if key in p["arguments"]
                          and p["arguments"][key] == val))
            if k + v > sum(best) or best_i < 0:
                best, best_i = (k, v), i
        if best_i >= 0:
            used.add(best_i)
            keys, values = keys + best[0], values + best[1]
    return {"names": names, "keys": keys, "values": values, "maximum": maximum,
            "value": (names + keys + values) / maximum}


def make_tool_call(opts: Options) -> Check:
    """``rule:tool_call[,scale=unit|toolrl]``: partial credit for tool calls against the reference calls."""
    scale = opts.text("scale", "unit")
    if scale not in {"unit", "toolrl"}:
        raise ValueError(f"rule:tool_call: scale={scale!r} must be unit or toolrl")
    low = -3.0 if scale == "toolrl" else 0.0
    high = 3.0 if scale == "toolrl" else 1.0

    def check(sample: Sample) -> Score:
        ref = reference_of(sample, "tool_call")
        if isinstance(ref, Score):
            return ref
        try:
            gold = parse_tool_calls(ref)
        except ValueError as exc:
            return Score.failure(f"tool_call: the reference is not a tool call: {exc}")
        try:
            pred = parse_tool_calls(sample.response)
        except ValueError as exc:
            return Score(low, components={"format": 0.0}, rationale=f"no parseable tool call: {exc}")
        credit = tool_call_credit(gold, pred)
        value = low + (high - low) * credit["value"]
        parts = {k: credit[k] for k in ("names", "keys", "values")}
        why = (f"names {parts['names']:.2f}, parameter names {parts['keys']:.2f}, "
               f"matching values {parts['values']:.0f}, out of {credit['maximum']:.0f}")
        return Score(value, components={"format": 1.0, **parts}, rationale=why)

    return check
