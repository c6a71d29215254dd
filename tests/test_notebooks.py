"""Tests of the chapter notebooks in notebooks/.

Every notebook is committed without outputs, starts with the cell that
finds src/ and the parameter cell, and runs top to bottom without an error.
The runs use small settings: as papermill does, a cell of overrides is
inserted after the parameter cell (the defaults there are the book's
settings, far too long for a test).  Each run uses a fresh python3 kernel
of this interpreter (ipykernel's own kernel spec, whatever other kernels
are installed), with notebooks/ as the working directory.  Besides
running without an error, every cell tagged "figure" must show an inline
image, and chapter 6 must say which device network3 used.
"""

from __future__ import annotations

import ast
import copy
import sys
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

import mnist_files
import mnist_loader
import safe_files

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
CHAPTERS = ("chapter1", "chapter2", "chapter3", "chapter4", "chapter5", "chapter6")

# Small settings for each notebook: a couple of epochs on a few thousand
# images, so that all of them run in a few minutes on 2 CPU cores.
SMALL = {
    "chapter1": dict(epochs=2, training_size=2000, runs=1, svm_training_size=500),
    "chapter2": dict(n_checked=10, timing_examples=500),
    "chapter3": dict(epochs=2, training_size=2000, small_training_size=300, small_epochs=6,
                     long_epochs=2, more_data_sizes=[100, 300], more_data_examples=1000,
                     more_data_svm=True, neuron_epochs=30),
    "chapter4": dict(bump_counts=[5, 10, 20], error_points=1001, grid_towers=4,
                     surface_points=31),
    "chapter5": dict(epochs=1, training_size=2000, gradient_training_size=100,
                     speed_epochs=5),
    "chapter6": dict(epochs=1, dropout_epochs=1, training_size=500, ensemble_size=2),
}
CELL_TIMEOUT = 600  # seconds; a cell that hangs fails instead of blocking CI


def read(name: str):
    return nbformat.read(str(NOTEBOOK_DIR / f"{name}.ipynb"), as_version=4)


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def parameter_names(cell) -> list[str]:
    """The names the parameter cell assigns; each must be a plain literal,
    so that papermill (or a test) can override it."""
    names = []
    for statement in ast.parse(cell.source).body:
        assert isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
            and isinstance(statement.targets[0], ast.Name), \
            f"the parameter cell may only assign literals to names: {ast.unparse(statement)}"
        ast.literal_eval(statement.value)  # raises if not a literal
        names.append(statement.targets[0].id)
    return names


def with_parameters(nb, overrides: dict):
    """A copy of ``nb`` with a cell setting ``overrides`` right after its
    parameter cell (papermill's "injected-parameters")."""
    nb = copy.deepcopy(nb)
    index = next(i for i, cell in enumerate(nb.cells) if "parameters" in tags(cell))
    unknown = set(overrides) - set(parameter_names(nb.cells[index]))
    assert not unknown, f"not parameters of the notebook: {sorted(unknown)}"
    source = "\n".join(f"{name} = {value!r}" for name, value in overrides.items())
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, cell)
    return nb


def execute(nb) -> None:
    """Run ``nb`` in place in a fresh kernel; raises CellExecutionError on
    the first cell that fails."""
    # kernel_dirs=[] leaves only ipykernel's built-in spec, which starts this
    # very interpreter (sys.executable), so the kernel sees what pytest sees.
    kernel = KernelManager(kernel_name="python3",
                           kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
    client = NotebookClient(nb, km=kernel, timeout=CELL_TIMEOUT,
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()


def text_output(nb) -> str:
    return "".join(output.get("text", "") for cell in code_cells(nb)
                   for output in cell.outputs if output.output_type == "stream")


#### The committed notebooks

def test_every_chapter_notebook_is_there_and_nothing_else():
    found = sorted(path.stem for path in NOTEBOOK_DIR.glob("*.ipynb"))
    assert found == sorted(CHAPTERS)


@pytest.mark.parametrize("name", CHAPTERS)
def test_committed_without_outputs(name):
    nb = read(name)
    nbformat.validate(nb)
    for i, cell in enumerate(code_cells(nb)):
        assert cell.outputs == [], f"{name}: code cell {i} has outputs"
        assert cell.execution_count is None, f"{name}: code cell {i} has an execution count"


@pytest.mark.parametrize("name", CHAPTERS)
def test_starts_with_the_path_cell_and_the_parameter_cell(name):
    nb = read(name)
    cells = code_cells(nb)
    assert 'sys.path.insert(0, str(REPO / "src"))' in cells[0].source, \
        f"{name}: the first code cell must put src/ on sys.path"
    assert tags(cells[1]) == ["parameters"], \
        f"{name}: the second code cell must be the one tagged 'parameters'"
    assert sum("parameters" in tags(cell) for cell in cells) == 1
    assert set(SMALL[name]) <= set(parameter_names(cells[1]))


def test_the_path_cell_finds_src_from_the_root_and_from_notebooks(monkeypatch, tmp_path):
    """The first cell works whether the kernel starts in notebooks/, in the
    repository root or deeper; elsewhere it says what is wrong."""
    source = code_cells(read("chapter1"))[0].source
    for folder in (NOTEBOOK_DIR, ROOT, ROOT / "src"):
        monkeypatch.chdir(folder)
        namespace: dict = {}
        monkeypatch.setattr("sys.path", ["unchanged"])
        exec(source, namespace)
        assert namespace["REPO"] == ROOT
        assert sys.path == [str(ROOT / "src"), "unchanged"]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="open this notebook from inside"):
        exec(source, {})


#### Running them

@pytest.fixture(scope="module")
def mnist_pickle():
    """Build data/mnist.pkl.gz (from the IDX files) before the first
    notebook needs it, so that no notebook's run includes the build."""
    path = mnist_files.data_dir() / mnist_files.PICKLE_NAME
    if not path.exists():
        mnist_files.build_pickle(path)
    return path


@pytest.fixture(scope="module")
def small_expanded_file(tmp_path_factory):
    """A stand-in for mnist_expanded.pkl.gz: the first 500 training images
    and their shifts, so chapter 6 does not expand all 50,000."""
    import expand_mnist

    training, validation, test = mnist_loader.load_data()
    expanded = expand_mnist.expand(training[0][:500], training[1][:500])
    path = tmp_path_factory.mktemp("expanded") / "mnist_expanded.pkl.gz"
    safe_files.write_pickle(path, (expanded, validation, test), compresslevel=1)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", CHAPTERS)
def test_runs_top_to_bottom_with_small_settings(name, request, monkeypatch, mnist_pickle):
    # ipykernel shows figures inline unless MPLBACKEND says otherwise.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    # One BLAS/OpenMP thread: with the cores busy (CI, other jobs), threads
    # that wait for each other made network2's small products 75x slower.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    overrides = dict(SMALL[name])
    if name == "chapter6":
        overrides["expanded_data_file"] = str(request.getfixturevalue("small_expanded_file"))
    nb = with_parameters(read(name), overrides)
    start = time.perf_counter()
    execute(nb)
    print(f"{name}: executed in {time.perf_counter() - start:.1f} s")

    # Every cell meant to draw a figure showed one inline.
    for i, cell in enumerate(code_cells(nb)):
        if "figure" in tags(cell):
            assert any("image/png" in output.get("data", {}) for output in cell.outputs), \
                f"{name}: code cell {i} shows no figure:\n{cell.source}"
    # The sliders' first drawings (kept in the widgets' state) raised no error.
    widgets = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    for model in widgets.get("state", {}).values():
        for output in model.get("state", {}).get("outputs", []):
            assert output["output_type"] != "error", f"{name}: a widget's drawing failed: {output}"
    text = text_output(nb)
    if name in ("chapter1", "chapter3", "chapter5"):
        assert "Epoch 0" in text  # the book's progress lines were printed
    if name == "chapter6":
        assert "network3: running on the" in text
        assert "device used:" in text
        assert "Accuracy is" in text  # the ensemble's vote
