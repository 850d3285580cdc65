"""Columnar sources: Parquet files (pyarrow) and HF `datasets` (saved folders and the hub).

Kept apart from the JSON readers because they import heavy optional packages (the ``data`` extra), which
load only when such a source is actually read. Rows are addressed by 0-based index (``file[N]``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rewardlab.data.errors import DataError
from rewardlab.data.readers import HUB_PREFIX, Row

BATCH = 1024


def read_parquet_rows(path: str) -> Iterator[Row]:
    """Stream a Parquet file batch by batch (memory bounded by ``BATCH`` rows)."""
    pq = _require("pyarrow.parquet", "pyarrow", path)
    try:
        table = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError variants for corrupt files
        raise DataError(f"not a readable Parquet file ({type(exc).__name__}: {exc})", path=path) from exc
    index = 0
    try:
        for batch in table.iter_batches(batch_size=BATCH):
            for obj in batch.to_pylist():
                yield Row(obj, f"{path}[{index}]", path, index, indexed=True)
                index += 1
    except (OSError, ValueError) as exc:
        raise DataError(f"corrupt Parquet data after row {index} ({type(exc).__name__}: {exc})", path=path) from exc


def read_disk_rows(folder: str, split: str | None = None) -> Iterator[Row]:
    """Rows of a folder written by ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``."""
    root = Path(folder)
    markers = ("dataset_dict.json", "state.json", "dataset_info.json")
    if not any((root / m).exists() for m in markers):
        raise DataError(f"expected a folder written by datasets' save_to_disk (holding one of {list(markers)}), "
                        f"found a folder with {sorted(p.name for p in root.iterdir())[:10]}", path=folder)
    datasets = _require("datasets", "datasets", folder)
    try:
        loaded = datasets.load_from_disk(folder)
    except Exception as exc:  # datasets raises FileNotFoundError / arrow errors for broken folders
        raise DataError(f"cannot load with datasets.load_from_disk ({type(exc).__name__}: {exc})",
                        path=folder) from exc
    yield from _dataset_rows(loaded, folder, split)


def read_hub_rows(spec: str, split: str | None = None) -> Iterator[Row]:
    """Rows of a hub dataset: ``hf://owner/name[/config][:split]`` through `datasets.load_dataset`.

    The explicit ``split`` argument wins over one written in the spec. Needs network or a warm HF cache;
    offline, the error names the dataset and says so.
    """
    name, config, spec_split = parse_hub_spec(spec)
    split = split or spec_split
    datasets = _require("datasets", "datasets", spec)
    try:
        loaded = datasets.load_dataset(name, config, split=split)
    except Exception as exc:  # network, auth, missing split, ... all become one clear DataError
        raise DataError(f"cannot load hub dataset {name!r}"
                        f"{f' (config {config!r})' if config else ''}{f' split {split!r}' if split else ''}: "
                        f"{type(exc).__name__}: {exc} (offline? use a local file or a save_to_disk folder)",
                        path=spec) from exc
    yield from _dataset_rows(loaded, spec, split)


def parse_hub_spec(spec: str) -> tuple[str, str | None, str | None]:
    """``hf://owner/name[/config][:split]`` -> (``owner/name``, config, split)."""
    body = spec.removeprefix(HUB_PREFIX)
    body, _, split = body.partition(":")
    parts = body.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise DataError(f"expected a hub dataset as hf://owner/name[/config][:split], found {spec!r}", path=spec)
    return "/".join(parts[:2]), (parts[2] if len(parts) == 3 else None), (split or None)


def _dataset_rows(loaded: Any, where: str, split: str | None) -> Iterator[Row]:
    """Iterate a `Dataset`, or the chosen split of a `DatasetDict` (the only split when there is one)."""
    if hasattr(loaded, "keys") and not hasattr(loaded, "features"):  # a DatasetDict
        splits = list(loaded.keys())
        if split is None and len(splits) == 1:
            split = splits[0]
        if split not in splits:
            wanted = f"split {split!r}" if split else "a split (the dataset has several)"
            raise DataError(f"expected {wanted}; available splits: {splits} (pass split=... or PATH:SPLIT)",
                            path=where)
        loaded, where = loaded[split], f"{where}:{split}"
    index = 0
    for batch in loaded.iter(batch_size=BATCH):
        columns = list(batch)
        size = len(batch[columns[0]]) if columns else 0
        for j in range(size):
            yield Row({c: batch[c][j] for c in columns}, f"{where}[{index}]", where, index, indexed=True)
            index += 1


def _require(module: str, package: str, where: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DataError(f"reading this source needs the '{package}' package: pip install 'rewardlab[data]'",
                        path=where) from exc
