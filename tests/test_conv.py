"""Tests of conv.py: the ensemble vote, the chapter 6 architectures, the plots
and the script.  Networks train for one epoch on a few real MNIST images."""

import json
import re
import struct
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

import conv
import mnist_files
import mnist_loader
import network3
import plots
from safe_files import DataFileError
from network3 import ConvPoolLayer, FullyConnectedLayer, ReLU, SoftmaxLayer, sigmoid


#### The vote
def test_plurality_takes_the_most_common_label():
    votes = [[1, 2, 3, 0],
             [1, 3, 3, 0],
             [2, 3, 4, 7]]
    np.testing.assert_array_equal(conv.plurality(votes), [1, 3, 3, 0])


def test_plurality_ties_go_to_the_earliest_net():
    # Two nets that disagree: the first one wins, whichever label is larger.
    np.testing.assert_array_equal(conv.plurality([[5, 0, 9], [7, 2, 1]]), [5, 0, 9])
    # 2-2 tie between 4 and 2 among four nets: the first net said 4.
    np.testing.assert_array_equal(conv.plurality([[4], [2], [2], [4]]), [4])
    # A label with more votes beats the first net's.
    np.testing.assert_array_equal(conv.plurality([[4], [2], [2], [1]]), [2])


def test_plurality_agrees_with_counting_votes_in_order():
    rng = np.random.default_rng(0)
    votes = rng.integers(0, 10, size=(5, 500))
    expected = [Counter(column).most_common(1)[0][0] for column in votes.T.tolist()]
    np.testing.assert_array_equal(conv.plurality(votes), expected)


def test_plurality_rejects_bad_shapes():
    with pytest.raises(ValueError, match="shape"):
        conv.plurality([1, 2, 3])


class FixedNet:
    """Stands in for a trained network: predicts given labels."""

    def __init__(self, labels):
        self.labels = np.array(labels)

    def predict(self, x):
        assert len(x) == len(self.labels)
        return self.labels


def test_ensemble_finds_the_errors_of_the_vote(capsys):
    test_x = np.zeros((6, 784), dtype=np.float32)
    test_y = np.array([0, 1, 2, 3, 4, 5])
    nets = [FixedNet([0, 1, 9, 3, 8, 5]),
            FixedNet([0, 7, 9, 3, 4, 6]),
            FixedNet([1, 7, 2, 3, 8, 6])]
    # votes: 0, 7, 9, 3, 8, 6  -> wrong at 1, 2, 4, 5
    error_locations, erroneous_predictions = conv.ensemble(nets, (test_x, test_y))
    assert error_locations == [1, 2, 4, 5]
    assert erroneous_predictions == [7, 9, 8, 6]
    assert "Accuracy is 33.33%" in capsys.readouterr().out


def test_ensemble_rejects_predictions_of_the_wrong_length():
    with pytest.raises(ValueError, match="3 labels for 4 test images"):
        conv.ensemble([FixedNet([0, 1, 2])], (np.zeros((3, 784)), np.arange(4)))


def test_protocol_series_holds_the_test_accuracy_at_best_validation():
    class Trained:
        test_accuracies = [0.9, None, 0.95, None, 0.93]
    assert conv.protocol_series(Trained()) == [90.0, 90.0, 95.0, 95.0, 93.0]


#### The architectures, trained for one epoch on a few real images
@pytest.fixture(scope="module")
def small():
    """50 training, 100 validation and 100 test images of real MNIST."""
    training, validation, test = conv.standard_data()
    return ((training[0][:50], training[1][:50]),
            (validation[0][:100], validation[1][:100]),
            (test[0][:100], test[1][:100]))


def describe(net):
    """Each layer as (type, shapes, activation, dropout)."""
    rows = []
    for layer in net.layers:
        if isinstance(layer, ConvPoolLayer):
            rows.append(("conv", layer.filter_shape, layer.image_shape, layer.poolsize,
                         layer.activation_fn))
        elif isinstance(layer, FullyConnectedLayer):
            rows.append(("fc", layer.n_in, layer.n_out, layer.activation_fn,
                         layer.p_dropout))
        else:
            assert isinstance(layer, SoftmaxLayer)
            rows.append(("softmax", layer.n_in, layer.n_out, layer.p_dropout))
    return rows


CONV1 = ("conv", (20, 1, 5, 5), (10, 1, 28, 28), (2, 2))
CONV2 = ("conv", (40, 20, 5, 5), (10, 20, 12, 12), (2, 2))


def check_runs(nets, record, n, seed, epochs=1):
    """n nets with the seeds seed, seed+1, ... and their results recorded."""
    assert len(nets) == n
    assert [net.seed for net in nets] == [seed + j for j in range(n)]
    recorded = [run for exp in record for run in exp.runs]
    assert [run["seed"] for run in recorded] == [net.seed for net in nets]
    for net, run in zip(nets, recorded):
        assert len(net.validation_accuracies) == epochs
        assert run["accuracy"][-1] == pytest.approx(100 * net.test_accuracy)
        assert run["validation"] == pytest.approx(
            [100 * v for v in net.validation_accuracies])


def test_shallow_returns_its_nets_and_records_their_runs(small):
    with conv.session(seed=7, data=small) as record:
        nets = conv.shallow(n=2, epochs=1)
    assert isinstance(nets, list) and all(isinstance(net, network3.Network) for net in nets)
    check_runs(nets, record, 2, 7)
    assert describe(nets[0]) == [("fc", 784, 100, sigmoid, 0.0), ("softmax", 100, 10, 0.0)]
    assert [e.published for e in record] == ["97.80%"]
    # The session's list is the only record: nothing is kept anywhere else
    # but on the nets.
    with conv.session(seed=7, data=small):
        assert conv.shallow(n=1, epochs=1)[0].seed == 7
    assert len(record) == 1


def test_same_seed_same_result_and_training_size(small):
    with conv.session(seed=3, training_size=20, data=small) as a:
        conv.shallow(n=1, epochs=1)
    with conv.session(seed=3, training_size=20, data=small) as b:
        conv.shallow(n=1, epochs=1)
    assert a[0].runs == b[0].runs
    assert "20 training images" in a[0].settings
    with pytest.raises(ValueError, match="training_size"):
        with conv.session(training_size=5, data=small):
            conv.shallow(n=1, epochs=1)


def test_basic_conv_returns_the_last_net_for_plot_filters(small, tmp_path):
    """As in the book, plot_filters(basic_conv(), 0, 5, 4) draws the 20
    filters of the last net trained."""
    with conv.session(data=small) as record:
        net = conv.basic_conv(n=2, epochs=1)
    assert isinstance(net, network3.Network)
    assert net.seed == conv.SEED + 1  # the second of the two runs
    assert [run["seed"] for run in record[0].runs] == [conv.SEED, conv.SEED + 1]
    assert describe(net) == [CONV1 + (sigmoid,), ("fc", 2880, 100, sigmoid, 0.0),
                             ("softmax", 100, 10, 0.0)]
    path = tmp_path / "basic_conv_filters.png"
    with conv.session(data=small):
        conv.plot_filters(conv.basic_conv(n=1, epochs=1), 0, 5, 4, filename=path)
        omit = conv.omit_FC(n=1, epochs=1)
    assert png_size(path) == (5 * 60, 4 * 60)
    assert describe(omit) == [CONV1 + (sigmoid,), ("softmax", 2880, 10, 0.0)]


def test_dbl_conv_and_its_variants(small):
    with conv.session(data=small) as record:
        sig = conv.dbl_conv(n=1, epochs=1)
    assert describe(sig) == [CONV1 + (sigmoid,), CONV2 + (sigmoid,),
                             ("fc", 640, 100, sigmoid, 0.0), ("softmax", 100, 10, 0.0)]
    assert "eta 0.1" in record[0].settings
    assert record[0].published == "99.06%"
    with conv.session(data=small) as record:
        assert conv.dbl_conv_relu(lmbdas=(0.1,), n=1, epochs=1) is None
    [relu] = record
    assert relu.name == "dbl_conv_relu" and relu.published == "99.23%"
    assert "eta 0.03, lmbda 0.1," in relu.settings
    with conv.session(data=small) as record:
        assert conv.regularized_dbl_conv(lmbdas=(0.01, 1.0), n=1, epochs=1) is None
    assert [e.name for e in record] == ["regularized_dbl_conv lmbda=0.01",
                                        "regularized_dbl_conv lmbda=1.0"]
    assert [len(e.runs) for e in record] == [1, 1]


def test_the_lmbda_sweeps_default_to_the_books(small, monkeypatch):
    """dbl_conv_relu() trains 3 ReLU nets for each of the book's nine
    lmbdas, regularized_dbl_conv() 3 sigmoid nets for each of eight; SGD
    is replaced by a stand-in that records its arguments instead of training."""
    calls = []

    def sgd(net, training_data, epochs, mini_batch_size, eta, validation_data,
            test_data, lmbda=0.0):
        calls.append((net.layers[0].activation_fn, epochs, mini_batch_size, eta, lmbda))
    monkeypatch.setattr(network3.Network, "SGD", sgd)
    with conv.session(data=small) as record:
        conv.dbl_conv_relu()
    nine = [0.0, 0.00001, 0.0001, 0.001, 0.01, 0.1, 1.0, 10.0, 100.0]
    assert calls == [(ReLU, 60, 10, 0.03, lmbda) for lmbda in nine for _ in range(3)]
    assert len(record) == 9 and all(len(e.runs) == 3 for e in record)
    calls.clear()
    with conv.session(data=small):
        conv.regularized_dbl_conv()
    assert calls == [(sigmoid, 60, 10, 0.1, lmbda) for lmbda in nine[1:] for _ in range(3)]
    # The script's --lmbdas (here run_experiments' lmbdas) narrows the sweep.
    calls.clear()
    experiments = conv.run_experiments(["dbl_conv_relu"], runs=1, lmbdas=[0.1, 1.0],
                                       data=small)
    assert [e.name for e in experiments] == ["dbl_conv_relu", "dbl_conv_relu lmbda=1.0"]
    assert [call[-1] for call in calls] == [0.1, 1.0]


def test_expanded_data_architectures(small):
    with conv.session(data=small) as record:
        one = conv.expanded_data(300, runs=1, epochs=1)
    check_runs([one], record, 1, conv.SEED)
    assert describe(one)[2:] == [("fc", 640, 300, ReLU, 0.0), ("softmax", 300, 10, 0.0)]
    assert record[0].published == "99.46%"
    with conv.session(data=small):
        two = conv.expanded_data_double_fc(100, runs=1, epochs=1)
    assert describe(two) == [CONV1 + (ReLU,), CONV2 + (ReLU,),
                             ("fc", 640, 100, ReLU, 0.0), ("fc", 100, 100, ReLU, 0.0),
                             ("softmax", 100, 10, 0.0)]
    with conv.session(data=small) as record:
        drop = conv.double_fc_dropout(0.5, 0.4, 0.3, 2, epochs=1)
    check_runs(drop, record, 2, conv.SEED)
    assert describe(drop[1]) == [CONV1 + (ReLU,), CONV2 + (ReLU,),
                                 ("fc", 640, 1000, ReLU, 0.5), ("fc", 1000, 1000, ReLU, 0.4),
                                 ("softmax", 1000, 10, 0.3)]
    assert "eta 0.03, lmbda 0.0," in record[0].settings


def test_save_nets_keeps_every_net(small, tmp_path):
    with conv.session(seed=4, data=small, save_nets=tmp_path):
        conv.shallow(n=2, epochs=1)
    saved = sorted(tmp_path.iterdir())
    assert [p.name for p in saved] == ["shallow-seed4.pt", "shallow-seed5.pt"]
    assert network3.load(saved[1]).seed == 5


def test_expanded_data_without_the_file_says_how_to_make_it(tmp_path, monkeypatch):
    monkeypatch.setenv(mnist_files.DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(DataFileError, match="expand_mnist.py"):
        conv.expanded_data(runs=1, epochs=1)


def test_the_books_module_level_data_loads_on_first_use():
    """conv.training_data, validation_data and test_data exist as in the
    book's conv.py, but importing conv does not load MNIST."""
    script = textwrap.dedent("""
        import network3
        loads = []
        load = network3.load_data_shared
        network3.load_data_shared = lambda *args: loads.append(args) or load(*args)
        import conv
        assert loads == [], loads
        x, y = conv.training_data
        assert loads == [()], loads
        assert tuple(x.shape) == (50000, 784) and tuple(y.shape) == (50000,)
        assert network3.size(conv.validation_data) == network3.size(conv.test_data) == 10000
        assert conv.training_data[0] is x and len(loads) == 1
        try:
            conv.no_such_name
        except AttributeError as error:
            assert "no_such_name" in str(error)
        else:
            raise AssertionError("conv.no_such_name did not raise")
        print("ok")
    """)
    src = Path(conv.__file__).parent
    done = subprocess.run([sys.executable, "-c", script], cwd=src, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")


#### Pictures
def png_size(path):
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_plot_errors_lays_the_errors_out_in_rows_of_ten(tmp_path, small):
    path = tmp_path / "errors.png"
    fig = conv.plot_errors([3, 1, 4, 15, 9], [0, 1, 2, 3, 4], path, test_data=small[2])
    assert png_size(path) == (5 * 80, 100)
    texts = [[t.get_text() for t in ax.texts] for ax in fig.get_axes()]
    truth = small[2][1]
    assert texts == [[str(int(truth[j])), str(p)] for j, p in zip([3, 1, 4, 15, 9], range(5))]
    fig = conv.plot_errors(list(range(45)), None, tmp_path / "many.png", test_data=small[2])
    assert png_size(tmp_path / "many.png") == (10 * 80, 4 * 100)  # at most 40 drawn
    assert sum(bool(ax.images) for ax in fig.get_axes()) == 40


def test_plot_filters(tmp_path, small):
    with conv.session(data=small):
        net = conv.dbl_conv(n=1, epochs=1)
    conv.plot_filters(net, 0, 5, 4, tmp_path / "layer0.png")
    assert png_size(tmp_path / "layer0.png") == (5 * 60, 4 * 60)
    conv.plot_filters(net, 1, 8, 5, tmp_path / "layer1.png")
    assert png_size(tmp_path / "layer1.png") == (8 * 60, 5 * 60)
    with pytest.raises(ValueError, match="not a ConvPoolLayer"):
        conv.plot_filters(net, 2, 5, 4)
    with pytest.raises(ValueError, match="cannot hold"):
        conv.plot_filters(net, 1, 5, 4)



#### Pictures without a filename: shown where matplotlib can show them
@pytest.fixture(scope="module")
def untrained():
    """A net with the book's first convolutional layer, untrained: its
    random filters are as good as learned ones for drawing."""
    return network3.Network([ConvPoolLayer(image_shape=(10, 1, 28, 28),
                                           filter_shape=(20, 1, 5, 5), poolsize=(2, 2)),
                             SoftmaxLayer(n_in=20 * 12 * 12, n_out=10)], 10)


@pytest.fixture
def backend(monkeypatch):
    """Set matplotlib's backend for one test, as MPLBACKEND would."""
    return lambda name: monkeypatch.setitem(matplotlib.rcParams, "backend", name)


@pytest.mark.parametrize("name, where", [
    ("agg", "none"), ("pdf", "none"), ("svg", "none"),
    ("module://matplotlib_inline.backend_inline", "notebook"), ("inline", "notebook"),
    ("nbagg", "notebook"),
    ("tkagg", "window"), ("qtagg", "window")])
def test_figure_display_follows_the_backend(backend, name, where):
    backend(name)
    assert plots.figure_display() == where


def test_without_a_window_plot_filters_saves_a_new_png_here(untrained, tmp_path,
                                                            monkeypatch, capsys, backend):
    backend("agg")
    monkeypatch.chdir(tmp_path)
    fig = conv.plot_filters(untrained, 0, 5, 4)
    assert isinstance(fig, Figure) and fig.canvas.manager is None  # not pyplot's
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "backend agg" in lines[0]
    first = Path(re.search(r"to (\S+\.png) ", lines[0]).group(1))
    assert first.is_absolute() and first.samefile(tmp_path / "filters-layer0.png")
    assert png_size(first) == (5 * 60, 4 * 60)

    first.write_bytes(b"kept")  # a second call must not overwrite it
    conv.plot_filters(untrained, 0, 5, 4)
    second = Path(re.search(r"to (\S+\.png) ", capsys.readouterr().out).group(1))
    assert second.samefile(tmp_path / "filters-layer0-1.png")
    assert first.read_bytes() == b"kept" and png_size(second) == (5 * 60, 4 * 60)


def test_without_a_window_plot_errors_saves_errors_png(small, tmp_path, monkeypatch,
                                                       capsys, backend):
    backend("agg")
    monkeypatch.chdir(tmp_path)
    conv.plot_errors([3, 1, 4], [0, 1, 2], test_data=small[2])
    out = capsys.readouterr().out
    assert out.startswith("Saved the misclassified digits to ") and out.count("\n") == 1
    assert png_size(tmp_path / "errors.png") == (3 * 80, 100)


def test_with_a_filename_the_plots_only_save_there(untrained, small, tmp_path,
                                                   monkeypatch, capsys, backend):
    backend("agg")
    monkeypatch.chdir(tmp_path)
    conv.plot_filters(untrained, 0, 5, 4, filename="mine/filters.png")
    conv.plot_errors([3, 1], None, filename="mine/errors.png", test_data=small[2])
    assert capsys.readouterr().out == ""
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["errors.png", "filters.png", "mine"]


def test_with_a_window_the_plots_are_pyplots_figures_shown(untrained, small, tmp_path,
                                                           monkeypatch, capsys):
    """A GUI backend is faked: pyplot (on agg here) makes the figure and its
    show() only records which figures it was asked to show."""
    monkeypatch.setattr(plots, "figure_display", lambda: "window")
    monkeypatch.chdir(tmp_path)
    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(plt.get_fignums()))
    try:
        filters = conv.plot_filters(untrained, 0, 5, 4)
        errors = conv.plot_errors([3, 1], [0, 1], test_data=small[2])
        assert shown == [[filters.number], [filters.number, errors.number]]
        assert isinstance(filters, Figure) and sum(bool(ax.images) for ax in filters.axes) == 20
    finally:
        plt.close("all")
    assert capsys.readouterr().out == "" and list(tmp_path.iterdir()) == []


def test_in_a_notebook_the_plots_return_their_figure(untrained, small, tmp_path,
                                                     monkeypatch, capsys, backend):
    """Jupyter shows the figure a cell returns; a figure kept by pyplot as
    well would be shown twice."""
    backend("module://matplotlib_inline.backend_inline")
    monkeypatch.chdir(tmp_path)
    opened = plt.get_fignums()
    for fig in (conv.plot_filters(untrained, 0, 5, 4),
                conv.plot_errors([3, 1], [0, 1], test_data=small[2])):
        assert isinstance(fig, Figure) and fig.canvas.manager is None
    assert plt.get_fignums() == opened
    assert capsys.readouterr().out == "" and list(tmp_path.iterdir()) == []


#### The script
def test_script_writes_results_and_table(tmp_path, capsys):
    out = tmp_path / "results"
    assert conv.main(["shallow", "--runs", "2", "--epochs", "2", "--seed", "5",
                      "--training-size", "100", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    [shallow] = results["experiments"]
    assert [run["seed"] for run in shallow["runs"]] == [5, 6]
    table = (out / "table.md").read_text()
    assert "| shallow |" in table and "97.80%" in table
    assert png_size(out / "shallow.png")[0] > 0
    assert png_size(out / "shallow-validation.png")[0] > 0
    printed = capsys.readouterr().out
    assert "| shallow |" in printed
    assert printed.rstrip().splitlines()[-1].startswith(f"Results are in {out}")
    # A single epoch is still drawn: one marked point, not an empty line.
    assert conv.main(["shallow", "--runs", "1", "--epochs", "1", "--training-size", "100",
                      "--out", str(tmp_path / "one")]) == 0
    assert png_size(tmp_path / "one" / "shallow-validation.png")[0] > 0
    saved = json.loads((tmp_path / "one" / "results.json").read_text())
    assert saved["experiments"][0]["reference"] == 97.80
    assert "best validation epoch" in saved["experiments"][0]["ylabel"]


def test_script_rejects_unknown_experiments(tmp_path):
    with pytest.raises(SystemExit):
        conv.main(["no_such_experiment", "--out", str(tmp_path)])


@pytest.fixture
def no_data(no_data, monkeypatch):
    """conftest's no_data, and conv's own loaders refuse too (they may cache)."""
    refuse = mnist_loader.load_data  # conftest's refusal, set just now
    monkeypatch.setattr(network3, "load_data_shared", refuse)
    monkeypatch.setattr(conv, "standard_data", refuse)
    monkeypatch.setattr(conv, "expanded_training_data", refuse)


@pytest.mark.parametrize("argv, message", [
    (["shallow", "--seed", "-1"], "--seed"), (["shallow", "--runs", "0"], "--runs"),
    (["shallow", "--epochs", "0"], "--epochs"),
    (["shallow", "--training-size", "5"], "--training-size"),
    (["shallow", "--training-size", "60000"], "--training-size"),
    (["expanded_data_100", "--training-size", "300000"], "--training-size"),
    (["dbl_conv_relu", "--lmbdas", "-0.1"], "--lmbdas"),
    (["dbl_conv_relu", "--lmbdas", "0.1", "inf"],
     "--lmbdas must be finite numbers >= 0, got 0.1 inf"),
    (["regularized_dbl_conv", "--lmbdas", "nan"], "--lmbdas must be finite numbers"),
    (["double_fc_dropout", "--repetitions", "0"], "--repetitions"),
    (["double_fc_dropout", "--seed", str(2**32 - 2), "--repetitions", "5"], "largest seed"),
    (["shallow", "--nets", "a.pt"], "--nets"),
    (["no_such_experiment"], "unknown experiment")])
def test_script_refuses_bad_arguments_before_loading_data(argv, message, no_data,
                                                          tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        conv.main(argv + ["--out", str(tmp_path)])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_script_refuses_an_out_it_cannot_write(tmp_path, no_data, capsys):
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as stopped:
        conv.main(["shallow", "--out", str(tmp_path / "file")])
    assert stopped.value.code == 2
    assert "is not a folder" in capsys.readouterr().err


def test_script_says_in_one_line_that_a_network_file_is_missing(tmp_path, no_data, capsys):
    with pytest.raises(SystemExit) as stopped:
        conv.main(["ensemble", "--nets", str(tmp_path / "none.pt"), "--out", str(tmp_path)])
    assert stopped.value.code == 1
    assert capsys.readouterr().err == f"conv.py: {tmp_path / 'none.pt'}: no such network file\n"


def test_run_experiments_ensemble(tmp_path, small):
    out = tmp_path / "ens"
    experiments = conv.run_experiments(["ensemble"], epochs=1, repetitions=3,
                                       out=out, save_nets=True, data=small)
    assert [e.name for e in experiments] == ["double_fc_dropout(0.5, 0.5, 0.5)",
                                            "ensemble of 3"]
    votes = experiments[1].runs[0]
    assert 0 <= votes["errors"] <= 100
    assert votes["accuracy"] == [pytest.approx(100 - votes["errors"])]  # 100 test images
    shown = min(40, votes["errors"])  # in rows of ten
    assert png_size(out / "ensemble_errors.png") == (80 * min(10, shown),
                                                     100 * -(-shown // 10))
    assert png_size(out / "net_full_layer_0.png") == (300, 240)
    assert png_size(out / "net_full_layer_1.png") == (480, 300)
    saved = sorted((out / "nets").iterdir())
    assert len(saved) == 3
    reloaded = network3.load(saved[0])
    assert describe(reloaded)[2:] == [("fc", 640, 1000, ReLU, 0.5),
                                      ("fc", 1000, 1000, ReLU, 0.5),
                                      ("softmax", 1000, 10, 0.5)]
    assert reloaded.predict(small[2][0]).shape == (100,)
    assert "ensemble of 3" in (out / "table.md").read_text()


@pytest.mark.slow
def test_ensemble_votes_with_saved_nets(tmp_path, small, capsys):
    """Nets trained in separate runs and saved vote together later, with
    the same result as voting with them straight after training."""
    one = conv.run_experiments(["double_fc_dropout"], epochs=1, repetitions=1, seed=5,
                               out=tmp_path / "a", save_nets=True, data=small)
    two = conv.run_experiments(["double_fc_dropout"], epochs=1, repetitions=2, seed=6,
                               out=tmp_path / "b", save_nets=True, data=small)
    files = sorted((tmp_path / "a" / "nets").iterdir()) + sorted((tmp_path / "b" / "nets").iterdir())
    assert len(files) == 3 and len(one) == 1 and len(two) == 1
    experiments = conv.run_experiments(["ensemble"], ensemble_nets=files,
                                       out=tmp_path / "vote", data=small)
    assert [e.name for e in experiments] == ["ensemble of 3"]
    assert "(seeds 5, 6, 7), loaded from files" in experiments[0].settings
    loaded = [network3.load(f) for f in files]
    errors, _ = conv.ensemble(loaded, small[2])
    assert experiments[0].runs[0]["errors"] == len(errors)
    shown = min(40, len(errors))
    assert png_size(tmp_path / "vote" / "ensemble_errors.png") == (
        80 * min(10, shown), 100 * -(-shown // 10))
    # The script's --nets, which votes on all 10,000 test images.
    conv.main(["ensemble", "--nets", *map(str, files), "--out", str(tmp_path / "cli")])
    row = (tmp_path / "cli" / "table.md").read_text().splitlines()[4]
    assert row.startswith("| ensemble of 3 |") and "(seeds 5, 6, 7), loaded from files" in row
    assert row.endswith("| 1 (-) |")  # the vote itself used no seed
    assert "ensemble of 3" in capsys.readouterr().out


def test_an_ensemble_refuses_nets_of_different_architectures(tmp_path, small):
    conv.run_experiments(["double_fc_dropout"], epochs=1, repetitions=1,
                         out=tmp_path / "d", save_nets=True, data=small)
    conv.run_experiments(["shallow"], runs=1, epochs=1,
                         out=tmp_path / "s", save_nets=True, data=small)
    files = [next((tmp_path / "d" / "nets").iterdir()),
             next((tmp_path / "s" / "nets").iterdir())]
    with pytest.raises(ValueError, match="different architecture"):
        conv.load_nets(files)
    with pytest.raises(ValueError, match="no network files"):
        conv.load_nets([])


def test_run_experiments_by_name(small):
    experiments = conv.run_experiments(["expanded_data_double_fc_300", "dbl_conv"],
                                       runs=1, epochs=1, data=small)
    # Run in the book's order, whatever the order asked.
    assert [e.name for e in experiments] == ["dbl_conv", "expanded_data_double_fc(300)"]
    assert experiments[1].published == "99.48%"
    assert [len(e.runs) for e in experiments] == [1, 1]
    with pytest.raises(ValueError, match="unknown experiment"):
        conv.run_experiments(["dbl_conv", "bogus"], data=small)
    with pytest.raises(ValueError, match="out folder"):
        conv.run_experiments(["dbl_conv"], save_nets=True, data=small)
