"""Loopback load test of ``nlpseq serve``: dynamic batching vs ``--max-batch 1``, and memory under load.

    python bench/serve.py --sentiment runs/mr_bigru --ner runs/conll2003_ner_bilstm_crf \
        --translation runs/<translation run>            # the issue's models, full counts
    python bench/serve.py --quick                       # tiny runs trained here on toy data, ~2 minutes

For each model and each mode (dynamic: ``--max-batch 64 --max-wait-ms 5``; baseline: ``--max-batch
1``) it starts a real server on a free loopback port and, at 1, 8 and 64 concurrent clients (threads,
each with its own keep-alive connection, one input per request), sends requests until a count or a time
limit is reached, whichever comes first: requests/s, p50 and p99 latency. Then on the sentiment model
(dynamic) the server's RSS before and after ``--rss-requests`` more requests (after a warm-up).
Everything is bounded and stops by itself. One JSON object on stdout (``--out FILE`` also writes it),
a table on stderr. The ratio at 64 clients should be >= 5x for sentiment and tagging (issue 21); on a
tiny model the HTTP work dominates, so the quick run's ratios say little about a real model's.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.serve.process import Server  # noqa: E402  (the tests' real-process helper)

LEVELS = (1, 8, 64)
MODES = {"dynamic": ["--max-batch", "64", "--max-wait-ms", "5"], "max_batch_1": ["--max-batch", "1"]}
TEXTS = {
    "sentiment": ["a gripping , beautifully acted film", "the plot was dull and the acting weak",
                  "quite fun , really", "an awful , boring movie", "lovely film with a superb cast"],
    "tagging": ["EU rejects German call to boycott British lamb .", "Peter Blackburn reports from Brussels",
                "the cat sat on the mat in Paris", "Japan began the defence of their Asian Cup title"],
    "translation": ["the cat sat on the mat .", "a big red dog ran .", "the house is small ."],
}


def load(port: int, model: str, texts: list[str], clients: int, count: int, seconds: float) -> dict[str, Any]:
    """``clients`` threads sending one-input predict requests until ``count`` are done or ``seconds``
    pass: requests/s and latency percentiles (ms) of the answered ones; errors counted."""
    latencies: list[float] = []
    errors = [0]
    lock, sent = threading.Lock(), [0]
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        position = index
        while True:
            with lock:
                if sent[0] >= count or time.monotonic() > deadline:
                    break
                sent[0] += 1
            body = json.dumps({"inputs": [texts[position % len(texts)]]})
            position += clients
            started = time.perf_counter()
            try:
                connection.request("POST", f"/v1/models/{model}/predict", body,
                                   {"content-type": "application/json"})
                answer = connection.getresponse()
                answer.read()
                ok = answer.status == 200
            except OSError:
                ok = False
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            elapsed = time.perf_counter() - started
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    errors[0] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies) or [float("nan")]
    return {"clients": clients, "requests": len(latencies), "errors": errors[0],
            "requests_per_s": round(len(latencies) / wall, 1),
            "p50_ms": round(1000 * statistics.median(ordered), 2),
            "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2)}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS (Linux only)")


def tiny_runs(folder: Path) -> dict[str, Path]:
    """The sentiment, tagging and translation tiny recipes trained briefly on the tests' toy data."""
    import nlpseq
    from tests.tasks.test_contract import RECIPES, task_data

    runs = {}
    kinds = (("classification", "sentiment"), ("tagging", "tagging"), ("translation", "translation"))
    for task, kind in kinds:
        run = folder / kind
        nlpseq.train(ROOT / "recipes" / RECIPES[task] / "tiny.yaml",
                     [*task_data(task, folder / f"{kind}_data"), f"run_dir={run}", "trainer.max_steps=30",
                      f"data.cache_dir={folder / 'cache'}", "trainer.device=cpu"], verbose=False)
        runs[kind] = run
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentiment", type=Path, help="a classification run folder (MR)")
    parser.add_argument("--ner", type=Path, help="a tagging run folder (CoNLL-2003 NER)")
    parser.add_argument("--translation", type=Path, help="a translation run folder")
    parser.add_argument("--quick", action="store_true",
                        help="train tiny runs for the models not given, and small counts (~2 minutes)")
    parser.add_argument("--requests", type=int, help="most requests per level (default 2000; quick 300)")
    parser.add_argument("--seconds", type=float, help="most seconds per level (default 20; quick 2)")
    parser.add_argument("--rss-requests", type=int, default=10_000, help="requests between the RSS readings")
    parser.add_argument("--rss-seconds", type=float, help="most seconds for them (default 300; quick 15)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    count = args.requests or (300 if args.quick else 2000)
    seconds = args.seconds or (2.0 if args.quick else 20.0)
    rss_seconds = args.rss_seconds or (15.0 if args.quick else 300.0)

    given = {"sentiment": args.sentiment, "tagging": args.ner, "translation": args.translation}
    scratch = tempfile.TemporaryDirectory(prefix="bench_serve_")
    if any(run is None for run in given.values()):
        if not args.quick:
            parser.error("name --sentiment, --ner and --translation run folders, or use --quick")
        trained = tiny_runs(Path(scratch.name))
        given = {kind: run or trained[kind] for kind, run in given.items()}

    results: dict[str, Any] = {"quick": args.quick, "levels": list(LEVELS), "models": {}}
    logs = Path(scratch.name)
    for kind, run in given.items():
        table: dict[str, list[dict[str, Any]]] = {}
        for mode, flags in MODES.items():
            with Server([f"{kind}={run}", *flags], logs / f"{kind}_{mode}.log") as server:
                load(server.port, kind, TEXTS[kind], 8, 50, 5)  # warm-up
                table[mode] = [load(server.port, kind, TEXTS[kind], c, count, seconds) for c in LEVELS]
                for row in table[mode]:
                    print(f"{kind:12} {mode:12} {row['clients']:3} clients {row['requests_per_s']:9.1f} "
                          f"req/s p50 {row['p50_ms']:8.2f} ms  p99 {row['p99_ms']:8.2f} ms  "
                          f"errors {row['errors']}", file=sys.stderr)
        ratio = table["dynamic"][-1]["requests_per_s"] / max(table["max_batch_1"][-1]["requests_per_s"], 1e-9)
        results["models"][kind] = {"run_dir": str(run), **table, "ratio_at_64": round(ratio, 2)}
        print(f"{kind:12} dynamic / max_batch_1 at 64 clients: {ratio:.2f}x", file=sys.stderr)

    with Server([f"sentiment={given['sentiment']}", *MODES["dynamic"]], logs / "rss.log") as server:
        load(server.port, "sentiment", TEXTS["sentiment"], 64, 1000, 30)  # warm-up: allocator settles
        before = rss_kib(server.process.pid)
        done = load(server.port, "sentiment", TEXTS["sentiment"], 64, args.rss_requests, rss_seconds)
        after = rss_kib(server.process.pid)
    growth = (after - before) / before
    results["rss"] = {"requests": done["requests"], "errors": done["errors"], "before_kib": before,
                      "after_kib": after, "growth": round(growth, 4), "flat": growth < 0.05}
    print(f"RSS {before} KiB -> {after} KiB after {done['requests']} requests ({100 * growth:+.2f}%)",
          file=sys.stderr)
    text = json.dumps(results, indent=1)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
    scratch.cleanup()


if __name__ == "__main__":
    main()
