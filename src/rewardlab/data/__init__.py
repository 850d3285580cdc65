"""The data layer: read rows from any supported source and turn them into typed records.

Public API::

    from rewardlab.data import load_pairs, load_records, FieldKeys, DataError
    pairs = load_pairs("../shared/data/hh-rlhf/harmless-base/test.jsonl.gz")     # hh-rlhf detected
    kind, records = load_records("my.parquet", keys=FieldKeys(prompt_key="question"))

Readers: JSONL (streamed), JSON, Parquet, gzip, HF ``save_to_disk`` folders and ``hf://owner/name[:split]``
(`readers`, `tables`). Formats and their detection: `adapters`. Bad input raises `DataError` naming the
file, the line (or index) and the field, and what was expected.
"""

from rewardlab.data.adapters import FORMATS, KINDS, detect_format, kind_of
from rewardlab.data.errors import DataError
from rewardlab.data.keys import FieldKeys
from rewardlab.data.loaders import load_candidates, load_pairs, load_records, load_samples, load_steps
from rewardlab.data.pairs import HH_ASSISTANT
from rewardlab.data.readers import DEFAULT_MAX_LINE_BYTES, Row, read_rows
from rewardlab.data.rmbench import load_rmbench, load_rmbench_pairs, rmbench_difficulty, rmbench_pairs

__all__ = [
    "DEFAULT_MAX_LINE_BYTES", "FORMATS", "HH_ASSISTANT", "KINDS", "DataError", "FieldKeys", "Row",
    "detect_format", "kind_of", "load_candidates", "load_pairs", "load_records", "load_rmbench",
    "load_rmbench_pairs", "load_samples", "load_steps", "read_rows", "rmbench_difficulty", "rmbench_pairs",
]
