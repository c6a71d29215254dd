"""Tests of mnist_loader (the book's data formats) and of mnist_files and
safe_files, which do its file handling: IDX files, checksums, downloads,
safe pickles, atomic writes."""

import gzip
import hashlib
import inspect
import io
import os
import pickle

import numpy as np
import pytest

import mnist_files
import mnist_loader
import safe_files
from safe_files import DataFileError

IDX_NAMES = list(mnist_files.IDX_FILES)


@pytest.fixture(scope="module")
def data():
    return mnist_loader.load_data()


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format."""
    header = bytes([0, 0, 8, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


#### The real data, in the book's layout

def test_load_data_shapes_dtypes_and_split(data):
    (tx, ty), (vx, vy), (ex, ey) = data
    assert [len(tx), len(vx), len(ex)] == [50000, 10000, 10000]
    for x, y in data:
        assert x.dtype == np.float32 and x.shape[1] == 784
        assert y.dtype == np.int64 and y.shape == (len(x),)
        assert x.min() == 0.0 and x.max() == np.float32(255 / 256)
        assert set(np.unique(y)) == set(range(10))
    assert ty[0] == 5 and ey[0] == 7  # the first training digit, the first test digit


def test_validation_is_the_last_10000_training_images(data):
    raw = mnist_files.read_idx(mnist_files.data_dir() / "train-images-idx3-ubyte.gz")
    labels = mnist_files.read_idx(mnist_files.data_dir() / "train-labels-idx1-ubyte.gz")
    (tx, ty), (vx, vy), _ = data
    np.testing.assert_array_equal(vx * 256, raw[50000:].reshape(-1, 784))
    np.testing.assert_array_equal(tx[-1] * 256, raw[49999].ravel())
    np.testing.assert_array_equal(vy, labels[50000:])


def test_load_data_wrapper_returns_lists_of_columns():
    training, validation, test = mnist_loader.load_data_wrapper()
    assert all(isinstance(d, list) for d in (training, validation, test))
    assert [len(training), len(validation), len(test)] == [50000, 10000, 10000]
    x, y = training[0]
    assert x.shape == (784, 1) and y.shape == (10, 1)
    assert y.sum() == 1.0 and int(np.argmax(y)) == 5
    x, label = test[0]
    assert x.shape == (784, 1) and isinstance(label, int) and label == 7
    assert isinstance(validation[0][1], int)


def test_vectorized_result():
    e = mnist_loader.vectorized_result(3)
    assert e.shape == (10, 1) and e[3, 0] == 1.0 and e.sum() == 1.0
    assert mnist_loader.vectorized_result(np.int64(9))[9, 0] == 1.0
    for bad in (-1, 10, 2.0, True, "3"):
        with pytest.raises(ValueError, match="digit 0-9"):
            mnist_loader.vectorized_result(bad)


def test_mnist_loader_offers_just_the_books_three_functions():
    """The file handling is reached through mnist_files, not re-exported here."""
    public = {name for name, value in vars(mnist_loader).items()
              if not name.startswith("_") and not inspect.ismodule(value)
              and name != "annotations"}
    assert public == {"load_data", "load_data_wrapper", "vectorized_result"}


def test_data_dir_honours_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(mnist_files.DATA_DIR_ENV, str(tmp_path))
    assert mnist_files.data_dir() == tmp_path.resolve()
    monkeypatch.delenv(mnist_files.DATA_DIR_ENV)
    assert mnist_files.data_dir().name == "data"
    assert (mnist_files.data_dir().parent / "src" / "mnist_loader.py").exists()


#### Building from IDX files and downloading them

@pytest.mark.slow
def test_build_from_idx_files_in_a_fresh_folder(tmp_path, monkeypatch, capsys):
    for name in IDX_NAMES:
        (tmp_path / name).write_bytes((mnist_files.data_dir() / name).read_bytes())
    monkeypatch.setenv(mnist_files.DATA_DIR_ENV, str(tmp_path))
    (tx, ty), _, (ex, ey) = mnist_loader.load_data()
    assert (tmp_path / "mnist.pkl.gz").exists()
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [
        f"Building {tmp_path / 'mnist.pkl.gz'} from the four MNIST files "
        f"(once; it takes a few seconds)"]
    assert tx.shape == (50000, 784) and ey[0] == 7
    assert not [n for n in leftovers(tmp_path) if n.endswith(".part")]


def test_bad_checksum_is_refused_and_leaves_no_file(tmp_path, monkeypatch):
    for name in IDX_NAMES:
        (tmp_path / name).write_bytes((mnist_files.data_dir() / name).read_bytes())
    labels = mnist_files.read_idx(tmp_path / "t10k-labels-idx1-ubyte.gz").copy()
    labels[0] = (labels[0] + 1) % 10  # right shape, wrong content
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    monkeypatch.setenv(mnist_files.DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(DataFileError, match="t10k-labels-idx1-ubyte.gz: bad checksum"):
        mnist_loader.load_data()
    assert leftovers(tmp_path) == sorted(IDX_NAMES)


def test_truncated_gzip_is_refused(tmp_path):
    good = (mnist_files.data_dir() / "t10k-labels-idx1-ubyte.gz").read_bytes()
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataFileError, match="t10k-labels-idx1-ubyte.gz: corrupt or truncated"):
        mnist_files.read_idx(bad)


def test_idx_of_wrong_shape_or_length_is_refused(tmp_path):
    path = tmp_path / "some-images.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((3, 28, 28)))))
    assert mnist_files.read_idx(path).shape == (3, 28, 28)  # unknown name: no digest
    with pytest.raises(DataFileError, match=r"shape \(3, 28, 28\), expected \(10000,\)"):
        mnist_files.parse_idx(gzip.decompress(path.read_bytes()), path, (10000,))
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((3, 28, 28)))[:-5]))
    with pytest.raises(DataFileError, match="truncated or corrupt"):
        mnist_files.read_idx(path)
    path.write_bytes(gzip.compress(b"\x00\x00\x0d\x01" + b"\x00" * 8))
    with pytest.raises(DataFileError, match="not an IDX file"):
        mnist_files.read_idx(path)


def mirror(folder, files):
    folder.mkdir()
    for name, payload in files.items():
        (folder / name).write_bytes(payload)
    return folder.as_uri() + "/"


def test_download_skips_a_corrupt_mirror(tmp_path):
    name = "t10k-labels-idx1-ubyte.gz"
    good = (mnist_files.data_dir() / name).read_bytes()
    labels = mnist_files.read_idx(mnist_files.data_dir() / name).copy()
    labels[5] = 9 - labels[5]
    bad_mirror = mirror(tmp_path / "bad", {name: gzip.compress(idx_bytes(labels))})
    empty_mirror = mirror(tmp_path / "empty", {})
    good_mirror = mirror(tmp_path / "good", {name: good})
    target = tmp_path / "data"
    target.mkdir()
    path = mnist_files.fetch(name, target, [empty_mirror, bad_mirror, good_mirror])
    assert path == target / name and path.read_bytes() == good
    assert leftovers(target) == [name]


def test_offline_with_no_files_names_the_files_and_the_mirrors(tmp_path):
    name = "train-images-idx3-ubyte.gz"
    labels = np.zeros(5, dtype=np.uint8)
    bad_mirror = mirror(tmp_path / "bad", {name: gzip.compress(idx_bytes(labels))})
    nowhere = (tmp_path / "nowhere").as_uri() + "/"
    target = tmp_path / "data"
    target.mkdir()
    with pytest.raises(DataFileError) as info:
        mnist_files.fetch(name, target, [nowhere, bad_mirror])
    message = str(info.value)
    for needed in IDX_NAMES + [str(target), nowhere, bad_mirror, "bad checksum"]:
        assert needed in message
    assert leftovers(target) == []


def test_default_mirrors_are_listed_and_the_digests_match_developers_md():
    assert len(mnist_files.MIRRORS) >= 2
    assert all(url.endswith("/") for url in mnist_files.MIRRORS)
    # The shared copy's decompressed bytes have exactly the digests we check.
    for name, (digest, _) in mnist_files.IDX_FILES.items():
        raw = gzip.decompress((mnist_files.data_dir() / name).read_bytes())
        assert hashlib.sha256(raw).hexdigest() == digest


#### Safe pickles

class Payload:
    """Unpickling this would run a shell command that creates a file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_carrying_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(((np.zeros((1, 784)), Payload(marker)), None, None), f)
    with pytest.raises(DataFileError, match="refusing to load .*system"):
        mnist_loader.load_data(path)
    assert not marker.exists()


def test_truncated_pickle_is_refused(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    safe_files.write_pickle(path, ((np.zeros((2, 784), np.float32), np.zeros(2, np.int64)),) * 3)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataFileError, match="corrupt or truncated"):
        mnist_loader.load_data(path)


def test_pickle_of_the_wrong_shape_is_refused(tmp_path):
    path = tmp_path / "odd.pkl.gz"
    part = (np.zeros((2, 784), np.float32), np.zeros(2, np.int64))
    safe_files.write_pickle(path, (part, part, (np.zeros((2, 783), np.float32), part[1])))
    with pytest.raises(DataFileError, match=r"test images have shape \(2, 783\)"):
        mnist_loader.load_data(path)
    safe_files.write_pickle(path, (part, part))
    with pytest.raises(DataFileError, match="expected a triple"):
        mnist_loader.load_data(path)


class Python2Pickler(pickle._Pickler):
    """Writes strings as Python 2 did (BINSTRING opcodes), like the book's file."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + len(raw).to_bytes(4, "little") + raw)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def test_python2_pickle_like_the_books_file_loads(tmp_path):
    rng = np.random.default_rng(0)
    part = (rng.random((4, 784), dtype=np.float32), np.arange(4, dtype=np.int64))
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump((part, part, part))
    raw = buffer.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in raw and pickle.SHORT_BINSTRING in raw
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(raw))
    loaded = mnist_loader.load_data(path)
    for x, y in loaded:
        np.testing.assert_array_equal(x, part[0])
        np.testing.assert_array_equal(y, part[1])


def books_expanded_file(path, training, validation, test, dump):
    """The expanded file as the book's expand_mnist.py writes it: the
    training images and labels as lists, one array and one numpy integer
    each, the other two parts as arrays."""
    images, labels = list(training[0]), list(training[1])
    buffer = io.BytesIO()
    dump(([images, labels], validation, test), buffer)
    path.write_bytes(gzip.compress(buffer.getvalue()))
    return path


@pytest.mark.parametrize("dump", [
    lambda obj, f: pickle.dump(obj, f),                        # a Python 3 port
    lambda obj, f: Python2Pickler(f, protocol=2).dump(obj),   # the book's, under Python 2
], ids=["python3", "python2"])
def test_the_expanded_file_the_books_script_writes_loads(tmp_path, dump):
    rng = np.random.default_rng(1)
    training = (rng.random((6, 784), dtype=np.float32), rng.integers(0, 10, 6))
    other = (rng.random((2, 784), dtype=np.float32), np.arange(2, dtype=np.int64))
    path = books_expanded_file(tmp_path / "mnist_expanded.pkl.gz", training, other, other, dump)
    (x, y), (vx, vy), _ = mnist_loader.load_data(path)
    assert x.dtype == np.float32 and x.shape == (6, 784) and y.dtype == np.int64
    np.testing.assert_array_equal(x, training[0])
    np.testing.assert_array_equal(y, training[1])
    np.testing.assert_array_equal(vx, other[0])


def test_a_wrong_expanded_file_says_how_to_make_it_again(tmp_path):
    training = ([np.zeros(784, np.float32), np.zeros(783, np.float32)], [1, 2])
    other = (np.zeros((1, 784), np.float32), np.zeros(1, np.int64))
    path = tmp_path / "mnist_expanded.pkl.gz"
    safe_files.write_pickle(path, (training, other, other))
    with pytest.raises(DataFileError, match=r"arrays of 784 real pixels, found ndarray \(783,\); "
                                            r"make it again with python expand_mnist.py --force"):
        mnist_loader.load_data(path)


def test_advice_about_a_damaged_file_fits_where_it_is(tmp_path, monkeypatch):
    """Only the data folder's mnist.pkl.gz comes back when deleted; an
    expanded file elsewhere is remade with --output; of IDX files only the
    four MNIST ones are downloaded again; for any other file there is no
    advice to give."""
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    data.mkdir()
    elsewhere.mkdir()
    monkeypatch.setenv(mnist_files.DATA_DIR_ENV, str(data))

    def refusal(path, read=mnist_loader.load_data):
        path.write_bytes(gzip.compress(pickle.dumps(list(range(1000))))[:-20])  # cut short
        with pytest.raises(DataFileError) as error:
            read(path)
        return str(error.value)
    assert refusal(data / "mnist.pkl.gz").endswith(
        "; delete it, and load_data() will build it again from the MNIST files")
    assert "delete" not in refusal(elsewhere / "mnist.pkl.gz")
    assert "delete" not in refusal(data / "mine.pkl.gz")
    assert refusal(data / "mnist_expanded.pkl.gz").endswith(
        "; make it again with python expand_mnist.py --force")
    assert refusal(elsewhere / "mnist_expanded.pkl.gz").endswith(
        f"; make it again with python expand_mnist.py --force --output "
        f"{elsewhere / 'mnist_expanded.pkl.gz'}")
    assert refusal(elsewhere / "t10k-labels-idx1-ubyte.gz", mnist_files.read_idx).endswith(
        "; delete it and it will be downloaded again")
    assert "delete" not in refusal(elsewhere / "my-labels-idx1-ubyte.gz", mnist_files.read_idx)


def test_missing_named_file_gives_a_clear_error(tmp_path):
    with pytest.raises(DataFileError, match="no such data file.*expand_mnist.py"):
        mnist_loader.load_data(tmp_path / "mnist_expanded.pkl.gz")


def test_atomic_path_leaves_nothing_when_interrupted(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with safe_files.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old" and leftovers(tmp_path) == ["out.bin"]
    with safe_files.atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and leftovers(tmp_path) == ["out.bin"]
