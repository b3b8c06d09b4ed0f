"""The docs' quick start (docs/quickstart.md) is a walk a new user can take: its bash blocks run in
order, as written, in an empty folder, from `nlpseq recipes cp` to a warm-started fine-tune and
`nlpseq predict`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

PAGE = ROOT / "docs" / "quickstart.md"


def bash_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```$", markdown, flags=re.MULTILINE | re.DOTALL)


def test_the_quick_start_walk_runs_as_written(tmp_path: Path) -> None:
    blocks = bash_blocks(PAGE.read_text(encoding="utf-8"))
    assert len(blocks) >= 5
    # `nlpseq` is the installed console script; the test runs this checkout's code with this Python.
    prelude = f'nlpseq() {{ "{sys.executable}" -m nlpseq "$@"; }}\nset -euo pipefail\n'
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    outputs = []
    for number, block in enumerate(blocks, 1):
        done = subprocess.run(["bash", "-c", prelude + block], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, f"block {number} failed:\n{block}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    assert (tmp_path / "my_sentiment.yaml").is_file()
    assert "warm start:" in outputs[3] and "loaded from" in outputs[3]
    single, *jsonl, metrics = outputs[4].strip().splitlines()
    assert single.split()[0] in ("pos", "neg")
    assert [json.loads(line)["label"] for line in jsonl] == ["neg", "pos"]
    assert json.loads(metrics)["accuracy"] >= 0.9
