"""Reading records from where real data lives: a hub dataset id, or a local JSONL / JSON / parquet / CSV file
or dataset directory. Every failure is a `TaskError` naming the task, the file or id, the row and the fix.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.jsonl"
>>> _ = path.write_text('{"question": "1+1?", "answer": "2"}\\n')
>>> read_records("demo", str(path))
[{'question': '1+1?', 'answer': '2'}]
"""

from __future__ import annotations

import csv
import json
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from rl_reasoner.rundir import BadLine, read_jsonl
from rl_reasoner.tasks.base import TaskError

FILE_FORMATS = {".jsonl": "JSONL", ".json": "JSON", ".parquet": "parquet", ".csv": "CSV"}
"""Local file formats by extension."""

LOCAL_HINT = (
    "point task.params.path at a local file (.jsonl, .json, .parquet, .csv) or a `save_to_disk` directory, "
    "or, with the dataset already in the Hugging Face cache, set HF_DATASETS_OFFLINE=1"
)


def looks_local(path: str) -> bool:
    """True when `path` names a local file or directory rather than a hub id.

    >>> looks_local("openai/gsm8k"), looks_local("data/train.jsonl"), looks_local("./gsm8k")
    (False, True, True)
    """
    return (
        os.path.exists(path)
        or path.startswith((".", "/", "~"))
        or Path(path).suffix.lower() in FILE_FORMATS
        or path.count("/") > 1
    )


def read_records(task: str, path: str, config: str | None = None, split: str | None = None) -> list[dict]:
    """All records of `path`: a local file (its format from the extension), a local dataset directory
    (`split` picks the split), or a hub dataset id (`config`, `split`)."""
    if looks_local(path):
        local = Path(path).expanduser()
        if not local.exists():
            raise TaskError(
                f"task {task!r}: file {path!r} does not exist. Fix: check task.params.path "
                f"(relative paths are resolved from {os.getcwd()})."
            )
        records = read_directory(task, local, split) if local.is_dir() else read_file(task, local)
        where = f"{path!r}" + (f" split {split!r}" if local.is_dir() and split else "")
    else:
        records = read_hub(task, path, config, split)
        where = f"hub dataset {path!r} (config {config!r}, split {split!r})"
    if not records:
        raise TaskError(f"task {task!r}: {where} has no rows. Fix: check the file or the split name.")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise TaskError(
                f"task {task!r}: row {index} of {where} is a {type(record).__name__}, not an object with "
                f"named columns. Fix: store one object per row."
            )
    return records


def read_file(task: str, path: Path) -> list[dict]:
    """Records of a local JSONL, JSON (a list of objects, or an object holding one), parquet or CSV file."""
    kind = FILE_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise TaskError(
            f"task {task!r}: cannot tell the format of {str(path)!r} from its extension. "
            f"Fix: use one of {sorted(FILE_FORMATS)}."
        )

    def not_format(detail: str) -> TaskError:
        return TaskError(f"task {task!r}: {str(path)!r} is not a valid {kind} file: {detail}. Fix: {_fix(kind)}")

    if kind == "JSONL":
        try:
            return list(read_jsonl(path, strict=True))
        except BadLine as error:
            if error.reason.startswith("not UTF-8"):
                raise TaskError(f"task {task!r}: {str(path)!r} line {error.number} is {error.reason}. "
                                f"Fix: re-encode it as UTF-8 (e.g. iconv -t UTF-8).") from None
            raise not_format(str(error)) from None
    if kind == "JSON":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise not_format(str(error)) from None
        if isinstance(data, dict):
            lists = [value for value in data.values() if isinstance(value, list)]
            if len(lists) != 1:
                raise not_format("an object must hold exactly one list of rows (e.g. {\"data\": [...]})")
            data = lists[0]
        if not isinstance(data, list):
            raise not_format(f"expected a list of rows, got {type(data).__name__}")
        return data
    if kind == "parquet":
        import pyarrow
        import pyarrow.parquet

        try:
            return pyarrow.parquet.read_table(path).to_pylist()
        except (pyarrow.ArrowInvalid, OSError) as error:
            raise not_format(str(error).splitlines()[0]) from None
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            records = list(reader)
    except (csv.Error, UnicodeDecodeError) as error:
        raise not_format(str(error)) from None
    for index, record in enumerate(records):
        if None in record or None in record.values():
            raise not_format(f"row {index} has {'more' if None in record else 'fewer'} fields than the header")
    return records


def _fix(kind: str) -> str:
    return {
        "JSONL": "write one JSON object per line.",
        "JSON": "write a list of objects, or an object with one list of objects.",
        "parquet": "write it with pandas.DataFrame.to_parquet or datasets.Dataset.to_parquet.",
        "CSV": "write a header line and the same number of fields on every row.",
    }[kind]


def read_directory(task: str, path: Path, split: str | None) -> list[dict]:
    """Records of a `datasets` directory: one written by `save_to_disk`, or data files `datasets` can infer."""
    import datasets

    try:
        if (path / "dataset_dict.json").exists() or (path / "state.json").exists():
            loaded = datasets.load_from_disk(str(path))
            if isinstance(loaded, datasets.DatasetDict):
                if split not in loaded:
                    raise TaskError(
                        f"task {task!r}: directory {str(path)!r} has splits {sorted(loaded)}, not {split!r}. "
                        f"Fix: set the split in task.params."
                    )
                loaded = loaded[split]
        else:
            loaded = datasets.load_dataset(str(path), split=split)
    except TaskError:
        raise
    except Exception as error:
        raise TaskError(
            f"task {task!r}: cannot read directory {str(path)!r} (split {split!r}): {_first_line(error)}. "
            f"Fix: use a directory written by save_to_disk, or data files named after their split."
        ) from None
    return loaded.to_list()


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face endpoint (HF_ENDPOINT, default huggingface.co) accepts a connection."""
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def _offline() -> bool:
    flags = (os.environ.get(name, "").lower() for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"))
    return any(flag in ("1", "true", "yes") for flag in flags)


def read_hub(task: str, dataset_id: str, config: str | None, split: str | None) -> list[dict]:
    """Records of a hub dataset split via `datasets.load_dataset`.

    Without a reachable hub (and no offline mode set), this fails at once instead of after the
    `datasets` retries, saying how to run from a local file or the cache.
    """
    where = f"hub dataset {dataset_id!r} (config {config!r}, split {split!r})"
    if not _offline() and not hub_reachable():
        raise TaskError(f"task {task!r}: cannot reach the Hugging Face Hub to load {where}. Fix: {LOCAL_HINT}.")
    import datasets

    try:
        loaded = datasets.load_dataset(dataset_id, config, split=split)
    except Exception as error:
        raise TaskError(
            f"task {task!r}: cannot load {where}: {_first_line(error)}. "
            f"Fix: check the id, config and split in task.params, or {LOCAL_HINT}."
        ) from None
    return loaded.to_list()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
