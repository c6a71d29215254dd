"""classify
~~~~~~~~

Classify photographs or scans of your own handwritten digits with the
book's networks::

    python src/classify.py my7.jpg my3.png --net net.json --net conv.pt
    python src/classify.py my7.jpg --save-input seen/    # also keep the 28x28 input

Each image is made into an MNIST digit the way MNIST's were made: turned
grayscale, inverted (MNIST's ink is bright on black), cropped to the ink,
scaled to fit a 20x20 box keeping its aspect ratio, and placed in a 28x28
field with its centre of mass at the centre.  It is then fed to every
network given with ``--net``: a file written by ``save`` in network.py or
network2.py (JSON) or network3.py, taking 784 inputs and giving 10
outputs.  For each image and network the digit and its confidence are
printed: for a softmax output (network3) the probability of that digit,
for sigmoid outputs (network.py, network2.py) the winning output's share
of the ten outputs' sum.

Without ``--net`` the default network is used: network2 [784, 30, 10]
trained for 10 epochs (``DEFAULT_RECIPE``).  The first such run trains it
on MNIST (downloaded first if need be) and keeps it in the data folder
(``default_net_path()``); later runs load it, until the recipe changes.
The script says which it does.

A better network is one you train and save yourself, for instance
chapter 3's [784, 100, 10] network trained for 30 epochs (from the
project's folder)::

    cd src; python -c "import mnist_loader, network2; tr, va, te = mnist_loader.load_data_wrapper(); net = network2.Network([784, 100, 10]); net.SGD(tr, 30, 10, 0.5, lmbda=5.0, evaluation_data=te, monitor_evaluation_accuracy=True); net.save('../my_net.json')"; cd ..
    python src/classify.py my7.png --net my_net.json

A network3 network saved with its ``save`` method is given the same way.

Every argument and file is checked before any network is loaded or
trained: a missing image or network file, or a ``--save-input`` folder
that cannot be written, stops the script at once with a one-line message
(exit status 2).  An image that cannot be read as one, shows no ink or
shows several digits side by side gets a one-line message; the other
images are still classified (exit status 1).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

import data_files
import network2
from data_files import DataFileError, atomic_path

MNIST_SIZE = 28
BOX_SIZE = 20                 # MNIST digits were scaled to fit 20x20
INK_THRESHOLD = 0.25          # of the darkest ink: what counts as a stroke
FAINT = 0.15                  # fainter than this is paper
MIN_CONTRAST = 0.15           # ink must be this much darker than the paper
SPECK_FRACTION = 0.005        # ink blobs smaller than this share of the ink are specks
DIGIT_FRACTION = 0.15         # a blob with this share of the ink may be a digit


class ClassifyError(ValueError):
    """An image or network file that cannot be used, with the reason."""


#### Making an MNIST digit of an image
def mnist_image(source) -> np.ndarray:
    """The 28x28 MNIST-style digit (floats in [0, 1], ink 1) of the image
    at path ``source`` (or of a PIL image), made as MNIST's digits were.

    The paper's level is taken as the median pixel (the paper covers most
    of the picture) and subtracted, which also evens out a grey photograph.
    """
    name = getattr(source, "filename", None) or str(source)
    if isinstance(source, Image.Image):
        image = source
    else:
        try:
            image = Image.open(source)
            image.load()
        except FileNotFoundError:
            raise ClassifyError(f"{name}: no such file") from None
        except (UnidentifiedImageError, OSError) as e:
            raise ClassifyError(f"{name}: not an image that can be read ({e})") from None
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Transparent pixels count as white paper.
        image = image.convert("RGBA")
        paper = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(paper, image)
    gray = np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    ink = np.median(gray) - gray       # dark on light, inverted
    if ink.max() < MIN_CONTRAST:
        raise ClassifyError(f"{name}: no ink found (the image is blank, too faint, "
                            f"or light writing on a dark background)")
    ink = np.clip(ink / ink.max(), 0.0, 1.0)
    mask = _digit_mask(ink > INK_THRESHOLD, name)
    # The digit: its blobs' ink with the faint edges around them (a stroke's
    # anti-aliased border), and nothing else.
    ink = np.where(ndimage.binary_dilation(mask, iterations=2) & (ink > FAINT), ink, 0.0)
    rows, cols = np.nonzero(ink)
    crop = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    # Fit the longer side to 20 pixels, keeping the aspect ratio.
    height, width = crop.shape
    scale = BOX_SIZE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    box = np.asarray(Image.fromarray(crop.astype(np.float32)).resize(
        size, Image.Resampling.LANCZOS), dtype=np.float64)
    box = np.clip(box, 0.0, 1.0)
    return _centre_by_mass(box)


def _digit_mask(mask: np.ndarray, name: str) -> np.ndarray:
    """The ink mask without specks; several digit-sized blobs side by side
    (no column in common) are refused."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    sizes = ndimage.sum(mask, labels, index=np.arange(1, count + 1))
    total = sizes.sum()
    keep = [i + 1 for i, s in enumerate(sizes) if s >= SPECK_FRACTION * total]
    big = [i + 1 for i, s in enumerate(sizes) if s >= DIGIT_FRACTION * total]
    spans = sorted(tuple(np.nonzero((labels == i).any(axis=0))[0][[0, -1]]) for i in big)
    groups, reach = 0, -1          # groups of blobs that share columns
    for start, end in spans:
        groups += start > reach
        reach = max(reach, end)
    if groups > 1:
        raise ClassifyError(f"{name}: found {groups} digits side by side; crop the "
                            f"image to one digit")
    return np.isin(labels, keep)


def _centre_by_mass(box: np.ndarray) -> np.ndarray:
    """Place ``box`` in a 28x28 field so that its centre of mass is at the
    field's centre (rounded to whole pixels)."""
    com_row, com_col = ndimage.center_of_mass(box)
    top = int(round(MNIST_SIZE / 2 - com_row))
    left = int(round(MNIST_SIZE / 2 - com_col))
    field = np.zeros((3 * MNIST_SIZE, 3 * MNIST_SIZE))
    h, w = box.shape
    field[MNIST_SIZE + top:MNIST_SIZE + top + h, MNIST_SIZE + left:MNIST_SIZE + left + w] = box
    return field[MNIST_SIZE:2 * MNIST_SIZE, MNIST_SIZE:2 * MNIST_SIZE]


def save_input(digit: np.ndarray, path) -> Path:
    """Write a 28x28 digit as a PNG, as MNIST stores it (ink white on black)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Image.fromarray(np.round(digit * 255).astype(np.uint8)).save(tmp, format="PNG")
    return path


#### Networks
def load_net(path):
    """The network saved in the file ``path`` by ``save`` in network.py or
    network2.py (JSON; network2.load reads both) or in network3.py (a
    PyTorch file); it must take a 28x28 image and give ten outputs.  Any
    other file raises ClassifyError, naming the file once."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(64)
    try:
        if head.startswith(b"PK\x03\x04"):      # a zip archive, as torch.save writes
            import network3
            net = network3.load(path)
        elif not head:
            raise ValueError("an empty file")
        elif head.isspace() or head.lstrip()[:1] in b'{["-0123456789tfn':
            net = network2.load(path)           # JSON text starts with one of these
        else:
            raise ValueError("neither JSON text nor a PyTorch file")
    except (OSError, ValueError) as e:
        raise ClassifyError(f"{path}: not a network saved by network.py, network2.py "
                            f"or network3.py ({_problem(e, path)})") from None
    unfit = _unfit_for_mnist(net)
    if unfit:
        raise ClassifyError(f"{path}: {unfit}")
    return net


def classify(net, digit: np.ndarray) -> tuple[int, float]:
    """The digit ``net`` sees in a 28x28 image, and its confidence (see the
    module's docstring)."""
    x = np.asarray(digit, dtype=np.float64).reshape(MNIST_SIZE * MNIST_SIZE, 1)
    if hasattr(net, "sizes"):             # network.py or network2.py
        outputs = net.feedforward(x)[:, 0]
        share = outputs / outputs.sum()
    else:                                 # network3: softmax probabilities
        import torch
        import network3
        with torch.no_grad():
            net.feedforward(torch.as_tensor(x.T, dtype=torch.float32).to(network3.device))
            share = net.output[0].double().cpu().numpy()
    j = int(np.argmax(share))
    return j, float(share[j])


#### The default network
# Used when no --net is given: trained by this recipe the first time, then
# kept in the data folder.  Raise DEFAULT_NET_VERSION whenever the recipe
# changes; a network kept by another recipe is trained again in any case.
DEFAULT_RECIPE = {"sizes": [784, 30, 10], "epochs": 10, "mini_batch_size": 10,
                  "eta": 0.5, "lmbda": 5.0, "seed": 12345678}
DEFAULT_NET_VERSION = 1


def default_net_folder() -> Path:
    """Where the default network is kept: the data folder."""
    return data_files.data_dir()


def default_net_path(version: int | None = None) -> Path:
    """The file of the default network made by recipe ``version`` (by
    default the current one).  Beside it, a small record of its recipe
    and test accuracy (``record_path``)."""
    version = DEFAULT_NET_VERSION if version is None else version
    return default_net_folder() / f"classify-default-net-v{version}.json"


def record_path(net_path: Path) -> Path:
    """The record kept beside the default network ``net_path``."""
    return net_path.with_suffix(".about.json")


def default_network():
    """The default network: the one kept in ``default_net_path()`` if it
    was made by the current recipe, else one trained now and kept there.
    Says on stdout which it is."""
    path = default_net_path()
    kept = kept_default_net(path)
    if kept is not None:
        net, accuracy = kept
        print(f"Using the default network kept in {path} "
              f"({accuracy:.2%} on MNIST's test images)")
        return net
    recipe = DEFAULT_RECIPE
    print(f"No --net given: training the default network (network2 {recipe['sizes']}, "
          f"{recipe['epochs']} epochs) once; it is kept in {path}", flush=True)
    net, accuracy = train_default_net()
    keep_default_net(net, accuracy, path)
    print(f"The default network classifies {accuracy:.2%} of MNIST's test images.")
    return net


def train_default_net():
    """Train network2 on MNIST by ``DEFAULT_RECIPE`` (cross-entropy cost);
    return the network and its accuracy on the test images (a fraction)."""
    import mnist_loader
    recipe = DEFAULT_RECIPE
    training_data, _, test_data = mnist_loader.load_data_wrapper()
    net = network2.Network(recipe["sizes"], seed=recipe["seed"])
    net.SGD(training_data, recipe["epochs"], recipe["mini_batch_size"], recipe["eta"],
            lmbda=recipe["lmbda"])
    return net, net.accuracy(test_data) / len(test_data)


def kept_default_net(path):
    """The network kept in ``path`` and its test accuracy, or None unless
    both it and its record can be read and the record names the current
    recipe."""
    try:
        record = json.loads(record_path(path).read_text(encoding="utf-8"))
        accuracy = record["test_accuracy"]
        if record["recipe"] != DEFAULT_RECIPE or not (
                isinstance(accuracy, float) and 0 <= accuracy <= 1):
            return None
        net = network2.load(path)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (net, accuracy) if net.sizes == DEFAULT_RECIPE["sizes"] else None


def keep_default_net(net, accuracy: float, path) -> None:
    """Write the default network to ``path``, then its record, each
    atomically (a network without its record is not used), and remove the
    files of earlier versions."""
    path = Path(path)
    with contextlib.suppress(OSError):
        record_path(path).unlink()      # it may describe the network replaced here
    net.save(path)
    data_files.write_json(record_path(path), {"recipe": DEFAULT_RECIPE,
                                              "test_accuracy": accuracy})
    for version in range(1, DEFAULT_NET_VERSION):
        for old in (default_net_path(version), record_path(default_net_path(version))):
            with contextlib.suppress(OSError):
                old.unlink()


#### The command line
# How to train and save a better network than the default, for --help and
# the module's docstring (the tests run it, on a slice of MNIST).
TRAIN_A_BETTER_NET = (
    'cd src; python -c "import mnist_loader, network2; '
    'tr, va, te = mnist_loader.load_data_wrapper(); '
    'net = network2.Network([784, 100, 10]); '
    'net.SGD(tr, 30, 10, 0.5, lmbda=5.0, evaluation_data=te, '
    'monitor_evaluation_accuracy=True); '
    "net.save('../my_net.json')\"; cd ..")


def main(argv=None) -> int:
    """Run the command line ``argv``; return the exit status: 2 for a bad
    argument or file (nothing is loaded or trained then), 1 when an image
    could not be classified or the default network could not be made."""
    args = _parser().parse_args(argv)
    problems = argument_problems(args)
    if problems:
        for problem in problems:
            print(f"classify.py: {problem}", file=sys.stderr)
        return 2
    try:
        nets = [(path, load_net(path)) for path in args.net]
    except ClassifyError as e:
        print(f"classify.py: {e}", file=sys.stderr)
        return 2
    failed = 0
    try:
        if not nets:
            problem = default_net_folder_problem()
            if problem:
                print(f"classify.py: {problem}", file=sys.stderr)
                return 1
            nets.append(("default network", default_network()))
        for image in args.images:
            try:
                digit = mnist_image(image)
            except ClassifyError as e:
                print(f"classify.py: {e}", file=sys.stderr)
                failed += 1
                continue
            if args.save_input is not None:
                save_input(digit, args.save_input / f"{Path(image).stem}.png")
            for name, net in nets:
                j, confidence = classify(net, digit)
                print(f"{image}: {j} ({confidence:.0%}) by {name}")
    except DataFileError as e:      # no MNIST data to train on, or a file not written
        print(f"classify.py: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    return 1 if failed else 0


def _parser() -> argparse.ArgumentParser:
    recipe = DEFAULT_RECIPE
    parser = argparse.ArgumentParser(
        prog="classify.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Classify photographs or scans of handwritten digits with the "
                    "book's networks.",
        epilog=f"Without --net the default network (network2 {recipe['sizes']}, "
               f"{recipe['epochs']} epochs) is used:\n"
               f"trained on the first run and kept in the data folder for later ones.\n"
               f"For a better network, train and save one yourself (from the project's\n"
               f"folder), e.g. chapter 3's [784, 100, 10] for 30 epochs, then pass it\n"
               f"with --net:\n\n"
               f"  {TRAIN_A_BETTER_NET}\n"
               f"  python src/classify.py my7.png --net my_net.json\n\n"
               f"A network saved by network.py or network3.py is given the same way.")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="photographs or scans")
    parser.add_argument("--net", action="append", default=[], metavar="FILE",
                        help="a network saved by network.py, network2.py or network3.py "
                             "(repeat for several)")
    parser.add_argument("--save-input", type=Path, metavar="DIR",
                        help="write each 28x28 input to DIR/<image name>.png")
    return parser


#### Checking the command line's input
# Every file named on the command line is checked before any network is
# loaded or trained, so that a mistyped name costs no training run.

def argument_problems(args) -> list[str]:
    """One line for each problem with the command line: an image or --net
    file that is missing or cannot be read, a --save-input folder that
    cannot be written, two images whose inputs would be saved as one file."""
    problems = [_unreadable(image, "image") for image in args.images]
    problems += [_unreadable(net, "network") for net in args.net]
    if args.save_input is not None:
        problems.append(_unwritable(args.save_input, "the 28x28 inputs"))
        first = {}
        for image in args.images:
            name = f"{Path(image).stem}.png"
            if first.setdefault(name, image) != image:
                problems.append(f"{image}: its input would be saved as "
                                f"{args.save_input / name}, like {first[name]}'s; "
                                f"rename one of them")
    return [problem for problem in problems if problem]


def default_net_folder_problem() -> str | None:
    """Why the default network could not be kept after training it, if it
    is not kept already."""
    if default_net_path().exists():
        return None
    return _unwritable(default_net_folder(), "the default network")


def _unreadable(name: str, what: str) -> str | None:
    """Why the ``what`` file ``name`` cannot be read, or None."""
    path = Path(name)
    if not path.exists():
        return f"{name}: no such file"
    if path.is_dir():
        return f"{name}: a folder, not {'an' if what == 'image' else 'a'} {what} file"
    if not os.access(path, os.R_OK):
        return f"{name}: cannot be read (permission denied)"
    return None


def _unwritable(folder: Path, what: str) -> str | None:
    """Why ``what`` cannot be written in ``folder`` (made if need be), or None."""
    existing = Path(folder)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent     # the folder would be made in here
    if existing.exists() and not existing.is_dir():
        return (f"{folder}: cannot hold {what}: " +
                ("it is a file" if existing == Path(folder) else f"{existing} is a file"))
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{folder}: cannot hold {what}: {existing} is not writable"
    return None


# A network file, once read: is it a network, and one for MNIST's digits?
def _unfit_for_mnist(net) -> str | None:
    """Why ``net`` cannot classify MNIST digits, or None: it must take the
    784 pixels of a 28x28 image and give one output for each digit."""
    if hasattr(net, "sizes"):               # network.py or network2.py
        takes, gives = (net.sizes[0],), net.sizes[-1]
    else:                                   # network3: a list of layers
        first, last = net.layers[0], net.layers[-1]
        takes = (tuple(first.image_shape[1:]) if hasattr(first, "image_shape")
                 else (first.n_in,))
        gives = int(np.prod(last.output_shape))
    if takes in ((784,), (1, 28, 28)) and gives == 10:
        return None
    inputs = (f"{takes[0]} inputs" if len(takes) == 1 else
              f"images of {'x'.join(map(str, takes))}")
    return (f"takes {inputs} and gives {gives} outputs, but a network for MNIST's "
            f"digits takes 784 inputs (28x28 pixels) and gives 10 outputs")


def _problem(error, path) -> str:
    """What ``error`` says is wrong with the file ``path``: its message
    without the file's name and the loader's preamble, on one short line."""
    text = " ".join(str(error).split())
    for name in (repr(str(path)), str(path)):
        if text.startswith(name):
            text = text[len(name):].lstrip(" :")
            break
    if text.startswith("not a network saved by network3"):
        return "network3.load cannot read it"  # the rest is PyTorch's own account
    for preamble in ("is not a saved network2 network:", "malformed network file:"):
        if text.startswith(preamble):
            text = text[len(preamble):].strip()
    return text if len(text) <= 150 else text[:147] + "..."


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
