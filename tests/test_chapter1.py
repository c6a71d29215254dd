"""The chapter 1 script, run for one epoch of each experiment on real MNIST."""

import json

import chapter1


def test_chapter1_one_epoch_of_each_experiment(tmp_path, capsys):
    table = chapter1.main(["--runs", "1", "--epochs", "1", "--seed", "3",
                           "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert printed.count("Epoch 0: ") == len(chapter1.EXPERIMENTS)
    saved = json.loads((tmp_path / "results.json").read_text())
    by_name = {exp["name"]: exp for exp in saved["experiments"]}
    assert list(by_name) == [f"{sizes}, eta {eta}" for sizes, eta, _ in chapter1.EXPERIMENTS] + [
        "average darkness"]
    for name, exp in by_name.items():
        assert len(exp["runs"]) == 1 and len(exp["runs"][0]["accuracy"]) == 1
        assert exp["published"] in table and name in table
    accuracy = {name: exp["runs"][0]["accuracy"][0] for name, exp in by_name.items()}
    assert accuracy["[784, 30, 10], eta 3.0"] > 85.0   # learns within one epoch
    assert accuracy["[784, 100, 10], eta 0.001"] < 40.0  # far too slow
    assert accuracy["[784, 30, 10], eta 100.0"] < 40.0   # far too large
    assert accuracy["average darkness"] == 22.25
    darkness_row = next(line for line in table.splitlines() if "average darkness" in line)
    assert darkness_row.endswith("| 1 (-) |")  # deterministic: no seed to report
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == []  # one epoch is a point, not a curve: no plots
    assert (tmp_path / "table.md").read_text().count("\n| ") == len(by_name) + 1
