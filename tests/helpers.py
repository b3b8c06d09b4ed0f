"""Tiny fixtures shared by the end-to-end tests (made on the fly, never real corpora)."""

from __future__ import annotations

import json
import random
from pathlib import Path

POSITIVE = ["good", "great", "fine", "lovely", "superb", "fun"]
NEGATIVE = ["bad", "awful", "dull", "boring", "poor", "weak"]
FILLER = ["the", "film", "movie", "was", "really", "plot", "a", "acting", "quite"]


def sentiment_rows(count: int, seed: int) -> list[dict[str, str]]:
    """Short texts whose label is set by one cue word among filler: learnable in seconds."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        label = "pos" if i % 2 == 0 else "neg"
        words = rng.sample(FILLER, rng.randint(2, 6))
        words.insert(rng.randint(0, len(words)), rng.choice(POSITIVE if label == "pos" else NEGATIVE))
        rows.append({"text": " ".join(words), "label": label})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def sentiment_files(folder: Path, train: int = 160, valid: int = 40, test: int = 40) -> list[str]:
    """Write train/valid/test JSONL and return the matching ``data.*=`` overrides."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "train": write_jsonl(folder / "train.jsonl", sentiment_rows(train, 1)),
        "valid": write_jsonl(folder / "valid.jsonl", sentiment_rows(valid, 2)),
        "test": write_jsonl(folder / "test.jsonl", sentiment_rows(test, 3)),
    }
    return [f"data.{split}={path}" for split, path in paths.items()]
