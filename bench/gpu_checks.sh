#!/usr/bin/env bash
# The checks this project runs when a GPU is lent, as one script with a fixed time budget:
#   1. the PTB medium recipe (2x650 tied LSTM) trained for at most $MINUTES wall-clock minutes
#      (trainer.max_minutes: the final evaluation and the test run still happen), reporting test
#      perplexity and seconds per epoch;
#   2. the CUDA-only tests (marked gpu: tests/e2e/test_gpu.py and CUDA cases elsewhere), which skip
#      without a GPU.
#
#   NLPSEQ_DATA=data MINUTES=6.5 bash bench/gpu_checks.sh [OUT_DIR]
#
# PTB must already be under $NLPSEQ_DATA/ptb (`nlpseq data fetch ptb`): a GPU machine may have no
# network. Results (results.json, metrics.jsonl, the logs, summary.json) go to OUT_DIR.
set -uo pipefail
out=${1:-runs/gpu_checks}
minutes=${MINUTES:-6.5}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
$py -c "import torch; print('torch', torch.__version__, 'cudnn', torch.backends.cudnn.version(),
'cuda', torch.cuda.is_available() and torch.cuda.get_device_name(0))"

run=$out/ptb_medium_lstm
rm -rf "$run"
# 2 minutes more than the training budget: data preparation, the last evaluation and the test run.
timeout "$(( ${minutes%.*} * 60 + 150 ))" $py -m nlpseq train lm/ptb_medium_lstm "run_dir=$run" \
    "trainer.max_minutes=$minutes" 2>&1 | tee "$out/ptb_medium_train.log"
echo "train exit: $?"
cp "$run/results.json" "$run/metrics.jsonl" "$out/" 2>/dev/null
$py - "$out" <<'EOF'
import json, sys
from pathlib import Path

out = Path(sys.argv[1])
results = json.loads((out / "results.json").read_text())
rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
epochs = results["steps"] / results["windows_per_epoch"]
summary = {
    "device": results["device"], "test_perplexity": results["test"]["perplexity"],
    "best_valid_perplexity": results["best_valid_perplexity"], "epochs": round(epochs, 2),
    "seconds_per_epoch": round(results["wall_seconds"] / epochs, 2),
    "train_seconds_per_epoch": round(results["train_seconds"] / epochs, 2),
    "tokens_per_s": results["train_tokens_per_s"], "wall_seconds": results["wall_seconds"],
    "valid_by_epoch": [round(r["perplexity"], 2) for r in rows if r["split"] == "valid"],
}
(out / "summary.json").write_text(json.dumps(summary, indent=1))
print(json.dumps(summary))
EOF

timeout 120 $py -m pytest -q -p no:cacheprovider -m gpu tests 2>&1 | tee "$out/gpu_tests.log"
echo "gpu tests exit: $?"
