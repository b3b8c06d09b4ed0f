"""bench/learning_curve.py without training: its JSON round-trips, its curves and its PNG."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import learning_curve
from bench.learning_curve import curves, numbers, plot_learning_curve, read_results, run_name, write_results
from nlpseq.config import save_config
from nlpseq.tasks import load_config
from tests.helpers import ROOT, sentiment_files

POINTS = [
    {"recipe": recipe, "fraction": fraction, "seed": seed, "run_dir": f"runs/{recipe}_{fraction}_{seed}",
     "train_examples": int(8000 * fraction), "test_accuracy": base + fraction / 10 + seed / 1000}
    for recipe, base in (("sentiment/mr_bilstm", 0.6), ("sentiment/mr_pretrained", 0.65))
    for fraction in (1.0, 0.1, 0.5)  # any order: the curve sorts by fraction
    for seed in (1, 3)
]


def test_results_round_trip_through_the_json(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "learning_curve.json"
    write_results(POINTS, path)
    assert read_results(path) == POINTS


def test_curves_give_the_mean_and_the_range_over_seeds_per_fraction() -> None:
    line = curves(POINTS)["sentiment/mr_bilstm"]
    assert [count for count, *_ in line] == [800, 4000, 8000]
    _, mean, low, high = line[0]
    assert (low, high) == (pytest.approx(0.6 + 0.01 + 0.001), pytest.approx(0.6 + 0.01 + 0.003))
    assert mean == pytest.approx(0.6 + 0.01 + 0.002)
    assert set(curves(POINTS)) == {"sentiment/mr_bilstm", "sentiment/mr_pretrained"}


def test_the_plot_is_a_png_file(tmp_path: Path) -> None:
    path = tmp_path / "img" / "curve.png"
    plot_learning_curve(POINTS, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    single = tmp_path / "one.png"  # one seed, one fraction: a point, no band to speak of
    plot_learning_curve(POINTS[:1], single)
    assert single.read_bytes()[:4] == b"\x89PNG"


def test_run_names_and_list_options() -> None:
    assert run_name("sentiment/mr_bilstm", 0.25, 13) == "mr_bilstm_f0.25_s13"
    assert run_name("mr_pretrained", 1.0, 2) == "mr_pretrained_f1_s2"
    assert numbers("0.1, 0.25,1", float) == [0.1, 0.25, 1.0]
    with pytest.raises(SystemExit):
        learning_curve.main(["--fractions", "0,0.5"])  # refused before anything trains


def test_a_finished_run_is_read_not_trained_and_its_training_examples_counted(tmp_path: Path) -> None:
    data = sentiment_files(tmp_path / "data", train=40, valid=10, test=10)
    run = tmp_path / "out" / run_name("sentiment/tiny", 0.5, 3)
    run.mkdir(parents=True)
    config = load_config(ROOT / "recipes" / "sentiment" / "tiny.yaml",
                         [*data, f"run_dir={run}", "data.train_fraction=0.5", "trainer.seed=3"])
    save_config(config, run / "config.yaml")
    (run / "results.json").write_text('{"test": {"accuracy": 0.75}}', encoding="utf-8")
    point = learning_curve.run_point("sentiment/tiny", 0.5, 3, tmp_path / "out")
    assert point == {"recipe": "sentiment/tiny", "fraction": 0.5, "seed": 3, "run_dir": str(run),
                     "train_examples": 20, "test_accuracy": 0.75}
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml", "results.json"]  # nothing trained
