"""The speed harness behind ``python bench/run.py``: one process, one table, every task.

Modules, one concept each:

* :mod:`~bench.harness.machine`: the machine's name in the results file, clocks and peak memory (RSS on
  CPU, ``torch.cuda.max_memory_allocated`` on a GPU).
* :mod:`~bench.harness.kernel`: the raw-kernel baseline, a plain ``nn.LSTM``/``nn.GRU`` of the model's
  sizes replaying the pipeline's batch shapes, and the wrapper that records those shapes.
* :mod:`~bench.harness.training`: pipeline rounds (the real :class:`~nlpseq.training.trainer.Trainer`)
  alternating with kernel rounds.
* :mod:`~bench.harness.inference`: batched vs one-at-a-time prediction, beam vs greedy, generation.
* :mod:`~bench.harness.scaling`: data preparation at 1x/4x/16x a corpus and process start to the first
  training step, each in a fresh subprocess (:mod:`~bench.harness.prepare_child`).
* :mod:`~bench.harness.report`: the arithmetic (ratios, padding, slopes) and the markdown table.

No speed is asserted anywhere: ``tests/unit/test_bench_harness.py`` checks the pieces, not the clock.
"""
