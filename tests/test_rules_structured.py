"""rule:json_schema, rule:tool_call (ToolRL credit, arithmetic written out), rule:bleu / rule:chrf, rule:overlong."""

from __future__ import annotations

import json
import math

import pytest
import sacrebleu

from rewardlab import Sample, load_reward
from rewardlab.rewards.rules.structured import jaccard_counts, parse_tool_calls, tool_call_credit

SCHEMA = {"type": "object", "required": ["name", "age"],
          "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}}


def test_json_schema_validity(tmp_path):
    schema = tmp_path / "person.json"
    schema.write_text(json.dumps(SCHEMA))
    rule = load_reward(f"rule:json_schema,schema={schema}")
    good, bad_type, not_json, fenced = rule.score([
        Sample("q", '{"name": "Ada", "age": 36}'),
        Sample("q", '{"name": "Ada", "age": -1}'),
        Sample("q", "{name: Ada}"),
        Sample("q", 'Here:\n```json\n{"name": "Ada", "age": 36}\n```'),
    ])
    assert (good.value, fenced.value) == (1.0, 1.0)
    assert bad_type.value == 0.0 and "at age" in bad_type.rationale
    assert bad_type.components == {"json": 1.0, "schema": 0.0}
    assert not_json.value == 0.0 and "not JSON" in not_json.rationale


def test_json_schema_file_problems_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_reward(f"rule:json_schema,schema={tmp_path / 'nope.json'}")
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "object",\n "properties": }')
    with pytest.raises(ValueError, match=r"broken.json:2: schema is not valid JSON"):
        load_reward(f"rule:json_schema,schema={broken}")
    invalid = tmp_path / "invalid.json"
    invalid.write_text('{"type": 12}')
    with pytest.raises(ValueError, match="invalid.json: invalid JSON Schema"):
        load_reward(f"rule:json_schema,schema={invalid}")


def test_jaccard_counts_repeats():
    # {a, a, b} vs {a, b, c}: intersection 2 (a once, b once), union 3 + 3 - 2 = 4.
    assert jaccard_counts(["a", "a", "b"], ["a", "b", "c"]) == pytest.approx(2 / 4)
    assert jaccard_counts([], []) == 1.0


def test_tool_call_credit_arithmetic():
    gold = [{"name": "weather", "arguments": {"city": "Paris", "unit": "C"}},
            {"name": "time", "arguments": {"tz": "CET"}}]
    pred = [{"name": "weather", "arguments": {"city": "Paris", "unit": "F", "days": 3}}]
    credit = tool_call_credit(gold, pred)
    # names: Jaccard({weather, time}, {weather}) = 1/2
    # weather: keys Jaccard({city, unit}, {city, unit, days}) = 2/3; values equal: city -> 1
    # time: no predicted call of that name -> 0
    # maximum = 1 + (1 + 2) + (1 + 1) = 6
    assert credit["names"] == pytest.approx(0.5)
    assert credit["keys"] == pytest.approx(2 / 3)
    assert credit["values"] == 1.0
    assert credit["maximum"] == 6.0
    assert credit["value"] == pytest.approx((0.5 + 2 / 3 + 1) / 6)
    assert tool_call_credit(gold, gold)["value"] == 1.0


def test_tool_call_rule_parses_formats_and_scales():
    ref = json.dumps({"name": "search", "arguments": {"q": "rl"}})
    openai_style = json.dumps([{"type": "function", "function": {"name": "search", "arguments": '{"q": "rl"}'}}])
    tagged = '<think>need search</think>\n<tool_call>\n{"name": "search", "parameters": {"q": "rl"}}\n</tool_call>'
    rule = load_reward("rule:tool_call")
    scores = rule.score([Sample("q", openai_style, reference=ref), Sample("q", tagged, reference=ref),
                         Sample("q", "I will search for rl", reference=ref)])
    assert [s.value for s in scores] == [1.0, 1.0, 0.0]
    assert scores[2].components == {"format": 0.0} and "no parseable tool call" in scores[2].rationale
    [toolrl] = load_reward("rule:tool_call,scale=toolrl").score([Sample("q", "nothing", reference=ref)])
    assert toolrl.value == -3.0
    assert parse_tool_calls('{"name": "f"}') == [{"name": "f", "arguments": {}}]


def test_bleu_and_chrf_match_sacrebleu():
    ref, hyp = "the cat sat on the mat", "the cat sat on a mat"
    [bleu] = load_reward("rule:bleu").score([Sample("q", hyp, reference=ref)])
    [chrf] = load_reward("rule:chrf").score([Sample("q", hyp, reference=ref)])
    assert bleu.value == pytest.approx(sacrebleu.BLEU(effective_order=True).sentence_score(hyp, [ref]).score / 100)
    assert chrf.value == pytest.approx(sacrebleu.CHRF().sentence_score(hyp, [ref]).score / 100)
    assert 0.0 < bleu.value < 1.0
    multi = Sample("q", hyp, metadata={"references": ["a dog ran", hyp]})
    assert load_reward("rule:bleu").score([multi])[0].value == pytest.approx(1.0)
    [missing] = load_reward("rule:chrf").score([Sample("q", hyp)])
    assert math.isnan(missing.value) and "no reference" in missing.error


@pytest.mark.parametrize("words, expected", [(5, 0.0), (6, 0.0), (8, -0.5), (10, -1.0), (11, -1.0)])
def test_overlong_penalty(words, expected):
    # max 10, cache 4: free up to 6 words, then (6 - n) / 4, -1 beyond 10.
    [s] = load_reward("rule:overlong,max=10,cache=4").score([Sample("q", " ".join(["w"] * words))])
    assert s.value == pytest.approx(expected)
