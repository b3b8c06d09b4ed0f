"""Checked loading of a run folder's files: every fault is one line naming the file.

A run folder is read by ``evaluate``, ``predict``, ``average``, a warm start and a resume. Its files
may be damaged, swapped between runs or hostile, and each way a well-formed file can still be wrong is
said here once, as a :class:`~nlpseq.errors.DataError` (``FILE: problem``), before anything uses it:

- not a regular file (a FIFO would block the read forever, a folder is an ``IsADirectoryError``):
  :func:`regular_file` runs before every read;
- a checkpoint that is not a dict, has no ``model`` state dict, or an empty one (a ``last.pt`` whose
  ``model`` is ``{}`` would resume a model that starts from nothing): :func:`model_state`;
- weights that are NaN or infinite (a model that would predict ``nan`` without a word):
  :func:`check_finite`;
- a state dict of another shape than the model the run's files build
  (``FILE: does not match this run's model (head.weight 2x32 vs 3x32)``): :func:`fit_state`;
- a label list that is empty, not strings, or holds a label twice: :func:`read_labels`.

Checkpoints are opened through :func:`nlpseq.training.checkpoint.load_checkpoint` (``weights_only``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlpseq.config import DataConfig
from nlpseq.errors import DataError

# The plain-file readers live in the lower layer (nlpseq.tokenizers uses them); re-exported here.
from nlpseq.fileio import MISSING, read_bytes, read_json, regular_file  # noqa: F401

# torch is imported inside the checkpoint functions only: the command line imports this module before
# it knows whether it needs torch (seconds of start-up).
if TYPE_CHECKING:
    import torch
    from torch import nn

# How many names a mismatch lists: the first few say what happened; all of them make a wall of text.
_SHOWN = 3


def read_labels(path: str | Path) -> list[str]:
    """A label vocabulary (``labels.json``, ``tags.json``, ``conditions.json``): a non-empty JSON list
    of distinct strings. A label twice would give two output rows one name, and ``index()`` the first."""
    labels = read_json(path, "label file")
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise DataError("damaged label file (expected a JSON list of label names)", path)
    seen: set[str] = set()
    for label in labels:
        if label in seen:
            raise DataError(f"damaged label file (label {_short(label)} appears twice)", path)
        seen.add(label)
    return labels


def load_payload(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A checkpoint's contents, checked to be a dict (``torch.load`` returns whatever was saved)."""
    from nlpseq.training.checkpoint import load_checkpoint

    path = regular_file(path, "checkpoint not found")
    payload = load_checkpoint(path, map_location)
    if not isinstance(payload, dict):
        raise DataError(f"not a checkpoint (holds a {type(payload).__name__}, expected a dict with "
                        "'model')", path)
    return payload


def model_state(payload: Mapping[str, Any], path: str | Path) -> dict[str, Any]:
    """``payload["model"]``, checked: a non-empty dict of named values with finite weights."""
    if "model" not in payload:
        keys = ", ".join(sorted(map(str, payload))[:_SHOWN]) or "nothing"
        raise DataError(f"not a checkpoint (no 'model' weights; it holds {keys})", path)
    state = payload["model"]
    if not isinstance(state, dict):
        raise DataError(f"damaged checkpoint ('model' is a {type(state).__name__}, expected a state dict)",
                        path)
    if not state:
        raise DataError("damaged checkpoint ('model' holds no weights)", path)
    if not all(isinstance(name, str) for name in state):
        raise DataError("damaged checkpoint ('model' has names that are not strings)", path)
    check_finite(state, path)
    return state


def load_state(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The checked ``model`` state dict of checkpoint ``path`` (:func:`load_payload`,
    :func:`model_state`)."""
    return model_state(load_payload(path, map_location), path)


def check_finite(state: Mapping[str, Any], path: str | Path) -> None:
    """Refuse a state dict with a NaN or infinite floating-point tensor, naming the first one."""
    import torch

    for name, value in state.items():
        if torch.is_tensor(value) and value.is_floating_point() and not torch.isfinite(value).all():
            raise DataError(f"holds non-finite weights (NaN or infinity in {name}): refused", path)


def shape_text(value: Any) -> str:
    """``2x32`` for a ``[2, 32]`` tensor, ``scalar`` for a 0-d one, the type name for anything else."""
    import torch

    if not torch.is_tensor(value):
        return type(value).__name__
    return "x".join(map(str, value.shape)) if value.dim() else "scalar"


def mismatch(own: Mapping[str, Any], state: Mapping[str, Any]) -> str | None:
    """What keeps ``state`` from loading into a model whose state dict is ``own``, or None when it fits:
    ``head.weight 2x32 vs 3x32`` (the file's shape first), ``missing X``, ``unexpected Y``."""
    import torch

    missing = [name for name in own if name not in state]
    unexpected = [name for name in state if name not in own]
    shapes = [f"{name} {shape_text(state[name])} vs {shape_text(value)}" for name, value in own.items()
              if name in state and torch.is_tensor(value)
              and (not torch.is_tensor(state[name]) or state[name].shape != value.shape)]
    parts = [*shapes[:_SHOWN]]
    if missing:
        parts.append("missing " + _names(missing))
    if unexpected:
        parts.append("unexpected " + _names(unexpected))
    return "; ".join(parts) or None


def fit_state(model: nn.Module, state: Mapping[str, Any], path: str | Path) -> None:
    """Raise the one line ``FILE: does not match this run's model (...)`` when ``state`` cannot load
    into ``model`` (the model is sized from the run's config, tokenizers and label files, so a label
    file of another size shows here as the output layer's shape)."""
    problem = mismatch(model.state_dict(), state)
    if problem is not None:
        raise DataError(f"does not match this run's model ({problem})", path)


def load_into(model: nn.Module, path: str | Path, map_location: str | torch.device = "cpu"
              ) -> dict[str, Any]:
    """Load checkpoint ``path``'s weights into ``model``, every check above first; return the payload."""
    payload = load_payload(path, map_location)
    state = model_state(payload, path)
    try:
        # Loaded first, compared on failure: a model's load hooks may rename the keys of an earlier
        # version's checkpoint (the language model's embedding.weight), which a check before would refuse.
        model.load_state_dict(state)
    except (RuntimeError, ValueError, TypeError) as error:
        problem = mismatch(model.state_dict(), state) or str(error).strip().splitlines()[-1].strip()
        raise DataError(f"does not match this run's model ({problem})", path) from None
    return payload


def load_resume(model: nn.Module, path: str | Path, map_location: str | torch.device = "cpu",
                required: Iterable[str] = ("optimizer", "scheduler", "scaler", "rng", "state")
                ) -> dict[str, Any]:
    """A ``last.pt`` to resume from, loaded into ``model``: :func:`load_into`, and each of ``required``
    present as a dict (the rest of the training state the trainer restores)."""
    payload = load_into(model, path, map_location)
    for key in required:
        if not isinstance(payload.get(key), dict):
            what = "missing" if key not in payload else f"a {type(payload[key]).__name__}, not a dict"
            raise DataError(f"damaged checkpoint (its {key!r} is {what}); delete it to start afresh", path)
    return payload


def check_saved_data(data: DataConfig, split: str) -> None:
    """Refuse a local data path of a run's saved ``data`` section that ``evaluate`` would read for
    ``split`` and that exists but is no regular file: a FIFO blocks forever, ``/dev/zero`` never ends,
    a folder is an ``IsADirectoryError``. A validation split without a file of its own is carved off
    the training file, so that one is checked then. A path that does not exist is left to the task:
    some formats name a prefix (``test`` for ``test.de`` and ``test.en``), and a missing file already
    reads as one line."""
    key = "train" if split == "valid" and not data.valid else split
    value = getattr(data, key, None)
    if isinstance(value, str) and value and Path(value).exists() and not Path(value).is_file():
        raise DataError(f"data.{key} of the run's config.yaml is not a regular file (a folder, a FIFO or a "
                        "device): refused; score a file with --data FILE", value)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


def _short(value: str, limit: int = 40) -> str:
    """``repr`` of at most ``limit`` characters of a value read from a file (it may be huge)."""
    return repr(value[:limit]) + ("..." if len(value) > limit else "")
