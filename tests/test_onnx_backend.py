"""``classifier:...,backend=onnx``: the same weights through ONNX Runtime give the same scores as eager torch
(MiniLM with its seeded fresh head, a tiny BERT and a tiny Llama RM), in any batch shape."""

from __future__ import annotations

import numpy as np
import pytest

from rewardlab import Sample, load_reward

pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install 'rewardlab[onnx]')")

SAMPLES = [
    Sample("What is 2 + 3?", "5"),
    Sample("Explain photosynthesis briefly.", "Plants turn light, water and CO2 into sugar and oxygen. " * 6),
    Sample("", "A response with no prompt at all."),
    Sample("Say hi", "hi"),
    Sample("Long " * 90, "tail " * 40),
]


@pytest.mark.parametrize("spec", ["classifier:minilm", "classifier:minilm,inputs=concat,max_length=64"])
def test_minilm_scores_match_torch(spec):
    eager = load_reward(spec)
    onnx = load_reward(spec + ",backend=onnx")
    a = np.array([s.value for s in eager.score(SAMPLES)])
    b = np.array([s.value for s in onnx.score(SAMPLES)])
    np.testing.assert_allclose(b, a, atol=1e-5)
    assert onnx.provenance()["backend"].startswith("onnxruntime")
    one_by_one = np.array([onnx.score([s])[0].value for s in SAMPLES])  # batch shape does not matter
    np.testing.assert_allclose(one_by_one, b, atol=1e-5)


def test_tiny_models_match_torch(tiny_bert_dir, tiny_llama_rm_dir):
    for path in (tiny_bert_dir, tiny_llama_rm_dir):
        eager = load_reward(f"classifier:{path}")
        onnx = load_reward(f"classifier:{path},backend=onnx")
        a = [s.value for s in eager.score(SAMPLES)]
        b = [s.value for s in onnx.score(SAMPLES)]
        np.testing.assert_allclose(b, a, atol=1e-5, err_msg=str(path))


def test_bad_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="backend='tensorrt': use torch or onnx"):
        load_reward("classifier:minilm,backend=tensorrt")
