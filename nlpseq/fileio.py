"""Atomic file writes: a crash mid-write leaves the old file, never half a new one."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nlpseq.errors import DataError, NlpseqError

# The process's umask, read once (os.umask can only be read by setting it): files written here get
# the mode a plain open() would give them, not mkstemp's private 0600.
_UMASK = os.umask(0o022)
os.umask(_UMASK)

TMP_SUFFIX = ".tmp"


def temporary_name(path: Path) -> str:
    """The prefix of the temporary files :func:`atomic_write` makes for ``path`` (``.NAME.``)."""
    return f".{path.name}."


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it into place.

    The file gets the mode the umask gives new files. A kill between the two steps leaves a
    ``.NAME.*.tmp`` file behind, never a half-written ``path``; :func:`remove_orphans` clears them.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=temporary_name(path), suffix=TMP_SUFFIX, dir=path.parent)
    except OSError as error:
        raise NlpseqError(f"{path}: cannot write ({error.strerror or error})") from None
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except OSError as error:  # disk full, quota, a folder made read-only meanwhile
        Path(tmp).unlink(missing_ok=True)
        kept = "; the previous version is kept" if path.exists() else ""
        raise NlpseqError(f"{path}: cannot write ({error.strerror or error}){kept}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def decode_utf8(raw: bytes, where: str | Path, advice: str = "",
                error: type[NlpseqError] = NlpseqError) -> str:
    """``raw`` decoded as UTF-8; a bad byte is ``error`` naming ``where``, the byte and its line.

    One wording for every file a person wrote by hand (recipes, input lists), e.g.
    ``recipe.yaml: not UTF-8 (byte 0xe9 on line 2); save the recipe as UTF-8``.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as problem:
        line = raw[: problem.start].count(b"\n") + 1
        tail = f"; {advice}" if advice else ""
        raise error(f"{where}: not UTF-8 (byte {raw[problem.start]:#x} on line {line}){tail}") from None


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` atomically, and only when it changes: a run folder's files (config.yaml,
    tokenizer models) are rewritten on every start, and an unchanged file must never be put at risk
    by a full disk or a kill."""
    path = Path(path)
    with contextlib.suppress(OSError):
        if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
            return
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: str | Path, text: str) -> None:
    """UTF-8 ``text``, written as :func:`write_bytes` writes (atomically, only when it changes)."""
    write_bytes(path, text.encode("utf-8"))


def remove_orphans(folder: str | Path) -> list[Path]:
    """Delete temporary files that an interrupted :func:`atomic_write` left in ``folder``; return them.

    Only call this while no other process writes into the folder (a run holds its lock)."""
    orphans = sorted(Path(folder).glob(f".*{TMP_SUFFIX}")) if Path(folder).is_dir() else []
    for orphan in orphans:
        orphan.unlink(missing_ok=True)
    return orphans


def strict(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None, so that it is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    return value


def json_line(value: Any) -> str:
    """One strict-JSON line (no ``NaN``/``Infinity`` tokens: those become null)."""
    return json.dumps(strict(value), ensure_ascii=False, allow_nan=False)


def write_json(path: str | Path, value: Any) -> None:
    """Write strict JSON atomically (non-finite numbers become null)."""
    write_text(path, json.dumps(strict(value), ensure_ascii=False, indent=1, allow_nan=False) + "\n")


# ---------------------------------------------------------------------- checked reads of a run folder
MISSING = "missing from the run folder (was it copied whole?)"


def regular_file(path: str | Path, missing: str = MISSING) -> Path:
    """``path`` when it is a regular file; else a DataError naming it (``missing`` when nothing is
    there). Called before every read: opening a FIFO blocks until a writer comes, which may be never."""
    path = Path(path)
    if not path.exists():
        raise DataError(missing, path)
    if not path.is_file():
        raise DataError("not a regular file (a folder, a FIFO or a device): refused", path)
    return path


def read_bytes(path: str | Path) -> bytes:
    """The bytes of a run folder's file, checked to be a regular file first."""
    path = regular_file(path)
    try:
        return path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read ({error.strerror or error})", path) from None


def read_json(path: str | Path, what: str = "file") -> Any:
    """A run folder's JSON file; missing, not a regular file or unparsable is one line naming it
    (``what`` says which kind of file it is: ``label file``, ``language-model file``)."""
    path = regular_file(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise DataError(f"damaged {what} ({type(error).__name__})", path) from None
