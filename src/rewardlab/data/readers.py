"""Reading rows from files: JSONL, JSON, Parquet, gzip of either JSON kind, HF datasets (disk and hub).

`read_rows` is the single entry point and yields `Row` objects lazily, so a 200k-row JSONL file is never
held in memory (JSON documents, by their nature, are parsed whole). Every row carries where it came from
(``Row.source``) so adapters and, much later, scoring reports can point back at the exact line.

Which reader runs is decided by the path:

- ``hf://owner/name[/config][:split]``: `datasets.load_dataset` (needs a hub or a warm cache);
- a folder: `datasets.load_from_disk` (``folder:split`` picks a split of a saved DatasetDict);
- ``*.gz``: gunzipped on the fly, then chosen by the inner suffix;
- ``*.jsonl`` / ``*.ndjson``: JSON Lines; ``*.parquet`` / ``*.pq``: Parquet;
- ``*.json`` or anything else: sniffed. Many hub files called ``.json`` are really JSON Lines, so a file
  whose first non-blank line is a whole JSON object and which has a second non-blank line is read as
  JSONL; otherwise it is one JSON document: an array of objects, or an object holding such a list under
  ``data`` (or ``rows``, ``examples``, ...) or under its only list-of-objects key, or else a single row.

JSONL details: blank lines carry no row and are skipped; a UTF-8 byte-order mark on line 1 is ignored;
each line may be up to ``max_line_bytes`` long (default 512 MiB, so a 50 MB line reads normally); a
longer line is rejected with a `DataError` *without* being read into memory whole.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rewardlab.data.errors import DataError, describe

DEFAULT_MAX_LINE_BYTES = 512 * 1024 * 1024
HUB_PREFIX = "hf://"
LIST_KEYS = ("data", "rows", "examples", "records", "instances")


@dataclass(frozen=True)
class Row:
    """One input row: its fields and where it came from.

    ``source`` is ``file:N`` (1-based line) for line-based files and ``file[N]`` (0-based index) for
    arrays, Parquet and datasets; ``path``/``line``/``indexed`` are the same location, split for errors.
    """

    data: dict[str, Any]
    source: str
    path: str = ""
    line: int | None = None
    indexed: bool = False

    def error(self, reason: str, field: str | None = None) -> DataError:
        """A `DataError` located at this row."""
        return DataError(reason, path=self.path or None, line=self.line, field=field, indexed=self.indexed)


def read_rows(path: str | Path, *, split: str | None = None,
              max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Row]:
    """Yield the rows of ``path`` lazily (see the module docstring for how the reader is chosen).

    ``split`` picks a split of a saved `DatasetDict` or a hub dataset. Raises `DataError` for anything
    malformed: invalid JSON or UTF-8, a row that is not an object, an over-long line, a missing file.
    """
    text = str(path)
    if text.startswith(HUB_PREFIX):
        from rewardlab.data.tables import read_hub_rows

        yield from read_hub_rows(text, split=split)
        return
    local = Path(text)
    if not local.exists():
        folder, _, tail = text.rpartition(":")
        if folder and tail and Path(folder).is_dir() and split is None:
            from rewardlab.data.tables import read_disk_rows

            yield from read_disk_rows(folder, split=tail)
            return
        raise DataError("file not found", path=text)
    if local.is_dir():
        from rewardlab.data.tables import read_disk_rows

        yield from read_disk_rows(text, split=split)
        return
    yield from _read_file(local, text, max_line_bytes)


def _read_file(local: Path, text: str, max_line_bytes: int) -> Iterator[Row]:
    suffixes = [s.lower() for s in local.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    inner = suffixes[-2] if compressed and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    if inner in (".parquet", ".pq"):
        if compressed:
            raise DataError("gzip-compressed Parquet is not supported (Parquet compresses itself); gunzip it",
                            path=text)
        from rewardlab.data.tables import read_parquet_rows

        yield from read_parquet_rows(text)
        return
    if not compressed and inner not in (".jsonl", ".ndjson", ".json") and _is_parquet(local):
        from rewardlab.data.tables import read_parquet_rows

        yield from read_parquet_rows(text)
        return
    with _open(local, text, compressed) as fh:
        try:
            lines = inner in (".jsonl", ".ndjson") or _looks_like_jsonl(fh, max_line_bytes)
            fh.seek(0)
            yield from (_jsonl_rows(fh, text, max_line_bytes) if lines else _json_rows(fh, text))
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise DataError(f"corrupt or truncated gzip data ({type(exc).__name__}: {exc})", path=text) from exc


def _open(local: Path, text: str, compressed: bool) -> IO[bytes]:
    try:
        return gzip.open(local, "rb") if compressed else open(local, "rb")  # noqa: SIM115 (caller closes)
    except OSError as exc:
        raise DataError(f"cannot open: {exc.strerror or exc}", path=text) from exc


def _is_parquet(local: Path) -> bool:
    with open(local, "rb") as fh:
        return fh.read(4) == b"PAR1"


def _looks_like_jsonl(fh: IO[bytes], max_line_bytes: int) -> bool:
    """True when the first non-blank line is a whole JSON object and another non-blank line follows."""
    first = b""
    while not first.strip():
        first = fh.readline(max_line_bytes + 1)
        if not first:
            return False
    try:
        obj = json.loads(first.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return False
    if not isinstance(obj, dict):
        return False
    while raw := fh.readline(max_line_bytes + 1):
        if raw.strip():
            return True
    return False


def _jsonl_rows(fh: IO[bytes], path: str, max_line_bytes: int) -> Iterator[Row]:
    """Stream JSON Lines; memory is bounded by the longest line, never by the file."""
    lineno, offset = 0, 0
    while raw := fh.readline(max_line_bytes + 1):
        lineno += 1
        start, offset = offset, offset + len(raw)
        if len(raw.rstrip(b"\r\n")) > max_line_bytes:
            raise DataError(f"line is longer than max_line_bytes={max_line_bytes:,} bytes; raise max_line_bytes "
                            "to read it", path=path, line=lineno)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"invalid UTF-8: byte {raw[exc.start:exc.start + 1]!r} at byte offset {exc.start} "
                            f"of the line (offset {start + exc.start} in the file): {exc.reason}; expected "
                            "UTF-8 text", path=path, line=lineno) from exc
        if lineno == 1:
            text = text.removeprefix("\ufeff")
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg} (column {exc.colno})", path=path, line=lineno) from exc
        if not isinstance(obj, dict):
            raise DataError(f"expected a JSON object per line, found {describe(obj)}", path=path, line=lineno)
        yield Row(obj, f"{path}:{lineno}", path, lineno)


def _json_rows(fh: IO[bytes], path: str) -> Iterator[Row]:
    """One JSON document: an array of objects, or an object holding one under a list key."""
    raw = fh.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1)
        raise DataError(f"invalid UTF-8: byte {raw[exc.start:exc.start + 1]!r} at byte offset {column} of the "
                        f"line (offset {exc.start} in the file): {exc.reason}; expected UTF-8 text",
                        path=path, line=line) from exc
    del raw
    if not text.strip():
        return
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg} (column {exc.colno})", path=path, line=exc.lineno) from exc
    del text
    items = _row_list(doc, path)
    for index, obj in enumerate(items):
        if not isinstance(obj, dict):
            raise DataError(f"expected a JSON object, found {describe(obj)}", path=path, line=index, indexed=True)
        yield Row(obj, f"{path}[{index}]", path, index, indexed=True)


def _row_list(doc: Any, path: str) -> list[Any]:
    """The rows of a JSON document: the array itself; or, in an object, the list of objects under ``data``
    (or ``rows``, ``examples``, ...) or under its only such key; or else the object as a single row."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        row_lists = [k for k, v in doc.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
        for key in LIST_KEYS:
            if key in row_lists:
                return doc[key]
        if len(row_lists) == 1:
            return doc[row_lists[0]]
        if row_lists:
            raise DataError(f"expected one list of row objects, found several under keys {row_lists}; keep one "
                            f"(or put the rows under 'data')", path=path)
        return [doc]
    raise DataError(f"expected an array of objects or an object, found {describe(doc)}", path=path)
