"""Weight hashing reads each checkpoint once per process: counted reads, not timings."""

from __future__ import annotations

import json
import os

import pytest

from rewardlab import Sample, load_reward
from rewardlab.engine import loading
from rewardlab.engine.causal import load_causal_lm
from rewardlab.rewards.implicit import DPO_RECORD


@pytest.fixture
def counted_reads(monkeypatch, tmp_path):
    """Replace the one function that reads weight files to hash with a counting wrapper; empty cache."""
    reads: list[tuple[str, ...]] = []
    real = loading.hash_files

    def counting(files):
        reads.append(tuple(str(f) for f in files))
        return real(files)

    monkeypatch.setattr(loading, "hash_files", counting)
    monkeypatch.setattr(loading, "_HASHES", {})
    monkeypatch.setenv("REWARDLAB_HASH_CACHE", str(tmp_path / "hashes.json"))
    return reads


@pytest.fixture(scope="module")
def causal_pair(tmp_path_factory):
    from rewardlab.testing import tiny_llama

    root = tmp_path_factory.mktemp("hashing")
    return str(tiny_llama(root / "policy", seed=1)), str(tiny_llama(root / "ref", seed=2))


def test_second_load_does_not_reread(counted_reads, tiny_llama_rm_dir):
    first = loading.load_sequence_classifier(str(tiny_llama_rm_dir))
    second = loading.load_sequence_classifier(str(tiny_llama_rm_dir))
    assert len(counted_reads) == 1
    assert first.weights_sha256 == second.weights_sha256 == loading.weights_hash(str(tiny_llama_rm_dir))
    assert len(counted_reads) == 1


def test_changed_file_is_hashed_again(counted_reads, causal_pair, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(causal_pair[0], folder)
    before = loading.weights_hash(str(folder))
    weights = next(folder.glob("*.safetensors"))
    st = weights.stat()
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # same bytes, new mtime: read again
    again = loading.weights_hash(str(folder))
    assert len(counted_reads) == 2 and again == before
    with weights.open("ab") as fh:  # new bytes: a new digest, never the stale one
        fh.write(b"\0")
    assert loading.weights_hash(str(folder)) != before and len(counted_reads) == 3


def test_digest_unchanged_by_the_cache(causal_pair):
    """Hashes recorded before the cache (DPO records' reference_sha256) must still match."""
    import hashlib
    from pathlib import Path

    folder = Path(causal_pair[1])
    digest = hashlib.sha256()
    for f in sorted(p for p in folder.iterdir() if p.suffix in {".safetensors", ".bin", ".pt"}):
        digest.update(f.read_bytes())
    assert loading.weights_hash(str(folder)) == digest.hexdigest()


def test_implicit_reward_reads_its_reference_once(counted_reads, causal_pair, tmp_path):
    """The DPO record check, the scorer and the loaded model all ask for the reference's hash."""
    import shutil

    policy, ref = causal_pair
    trained = tmp_path / "trained"
    shutil.copytree(policy, trained)
    (trained / DPO_RECORD).write_text(json.dumps({"reference": ref, "beta": 0.1,
                                                  "reference_sha256": loading.weights_hash(ref)}))
    counted_reads.clear()
    reward = load_reward(f"implicit:policy={trained},cache=none")
    assert reward.score([Sample("two plus two", " is four")])[0].ok
    reward.provenance()
    load_causal_lm(ref)
    per_folder = {files[0].rsplit("/", 1)[0] for files in counted_reads}
    assert len(counted_reads) == len(per_folder) == 1  # the policy once; the reference already known


def test_a_later_process_reads_the_stored_digest(counted_reads, causal_pair, monkeypatch, tmp_path):
    first = loading.weights_hash(causal_pair[0])
    monkeypatch.setattr(loading, "_HASHES", {})  # as in a new process: only the file store remains
    assert loading.weights_hash(causal_pair[0]) == first and len(counted_reads) == 1
    (tmp_path / "hashes.json").write_text("not json")  # a damaged store costs a re-hash, never an error
    monkeypatch.setattr(loading, "_HASHES", {})
    assert loading.weights_hash(causal_pair[0]) == first and len(counted_reads) == 2
    monkeypatch.setenv("REWARDLAB_HASH_CACHE", "off")
    monkeypatch.setattr(loading, "_HASHES", {})
    assert loading.weights_hash(causal_pair[0]) == first and len(counted_reads) == 3
