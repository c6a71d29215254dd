"""classify
~~~~~~~~

Classify photographs or scans of your own handwritten digits with the
book's networks::

    python src/classify.py my7.jpg my3.png --net net.json --net conv.pt
    python src/classify.py my7.jpg --save-input seen/    # also keep the 28x28 input

Each image is made into an MNIST digit the way MNIST's were made: turned
grayscale, inverted (MNIST's ink is bright on black), cropped to the ink,
scaled to fit a 20x20 box keeping its aspect ratio, and placed in a 28x28
field with its centre of mass at the centre (``mnist_image``).  Any image
Pillow reads will do: 16-bit and float ones are read at their real range
(a 12-bit scan kept in 16 bits at 12 bits' range); transparent pixels
count as paper.
The paper's brightness is taken from the picture's edges, so paper shaded
from one side to the other, and a bold digit covering most of the picture,
read like a digit on even paper.  An image of more than ``MAX_PIXELS``
(60 million) pixels is refused from its header, before it is decoded; one
of more than ``WORK_PIXELS`` (2 million) is averaged down to that many
first (an RGBA PNG, an RGB JPEG and a float TIFF of 56 to 59 million
pixels each took under 270 MB beyond the script's own).

The digit is then fed to every network given with ``--net``: a file
written by ``save`` in network.py or network2.py (JSON, with or without a
UTF-8 byte order mark) or network3.py, taking 784 inputs and giving 10
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
that cannot be written, or an input that would be saved where a file
already is, stops the script at once with a one-line message (exit status
2).  ``--save-input`` never replaces anything: a file that appears there
meanwhile is left as it is.  An image that cannot be read as one, is too
large, shows no ink, only specks, or several digits side by side gets a
one-line message, and so does an input that could not be saved; the other
images are still classified (exit status 1).
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import io
import json
import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image
from scipy import ndimage

import mnist_files
import network2
import safe_files
from safe_files import DataFileError

MNIST_SIZE = 28
BOX_SIZE = 20                 # MNIST digits were scaled to fit 20x20
INK_THRESHOLD = 0.25          # of the darkest ink: what counts as a stroke
FAINT = 0.15                  # fainter than this is paper
MIN_CONTRAST = 0.15           # ink must be this much darker than the paper
SPECK_FRACTION = 0.005        # ink blobs smaller than this share of the ink are specks
DIGIT_FRACTION = 0.15         # a blob with this share of the ink may be a digit
FRAME = 0.05                  # this share of each side, at the edges, is taken as paper
MAX_PIXELS = 60_000_000       # a larger image is refused before it is decoded
WORK_PIXELS = 2_000_000       # a larger one is averaged down to this many or fewer
TILE = 1024                   # ... reading it in tiles of about this many pixels a side


class ClassifyError(ValueError):
    """An image or network file that cannot be used, with the reason."""


#### Making an MNIST digit of an image
def mnist_image(source, name: str | None = None) -> np.ndarray:
    """The 28x28 MNIST-style digit (floats in [0, 1], ink 1) of the image
    at path ``source`` (or of a PIL image, or of an image file held in
    memory: ``io.BytesIO(data)``), made as MNIST's digits were.  Messages
    call it ``name``, by default its file's name.

    The paper is found in the picture's frame, its outer ``FRAME`` on each
    side, where a picture of one digit shows only paper: a smooth surface
    (a quadratic in x and y) fitted to the frame's brightness, leaving out
    pixels far off it (a stroke that reaches the edge), gives the paper's
    brightness everywhere.  A pixel's ink is how much light it lacks as a
    share of the paper's light there, so that paper shaded from one side
    to the other, or a bold digit covering most of the picture, reads like
    a digit on even white paper.  On even paper this is the old rule: ink
    is the paper's level less the pixel's.
    """
    name = _shown(name or getattr(source, "filename", None) or str(source))
    if isinstance(source, Image.Image):
        gray = _grayscale(source, name)
    else:
        image = _opened_image(source, name)
        try:
            gray = _grayscale(image, name)
        finally:
            image.close()
    paper = _paper(gray)
    lacking = paper - gray              # dark on light, inverted
    if lacking.max() < MIN_CONTRAST:
        raise ClassifyError(f"{name}: no ink found (the image is blank, too faint, "
                            f"or light writing on a dark background)")
    # As a share of the paper's light; paper darker than an eighth of its
    # brightest is not trusted to say more (its noise would be magnified).
    ink = lacking / np.maximum(paper, paper.max() / 8)
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
    if box.sum() <= 0:
        raise ClassifyError(f"{name}: the ink is too thin to show at 28x28 pixels")
    return _centre_by_mass(box)


def _grayscale(image: Image.Image, name: str) -> np.ndarray:
    """The brightness of ``image`` as floats in [0, 1] (white 1, transparent
    pixels white paper), turned upright as its EXIF orientation says.

    An image of more than ``WORK_PIXELS`` pixels is averaged down, in
    square blocks, to that many or fewer.  It is read a tile at a time, so
    that beside the decoded image only one tile is ever held at full size.
    """
    read = _tile_reader(image, name)
    width, height = image.size
    factor = max(1, math.ceil(math.sqrt(width * height / WORK_PIXELS)))
    step = factor * max(1, TILE // factor)        # whole blocks in every tile
    gray = np.empty((-(-height // factor), -(-width // factor)))
    for top in range(0, height, step):
        for left in range(0, width, step):
            tile = read(image.crop((left, top, min(width, left + step),
                                    min(height, top + step))))
            if factor > 1:
                tile = _block_means(tile, factor)
            gray[top // factor:top // factor + tile.shape[0],
                 left // factor:left // factor + tile.shape[1]] = tile
    return _upright(gray, image)


def _tile_reader(image: Image.Image, name: str):
    """A function giving a tile of ``image`` (a PIL image of its mode) as
    floats in [0, 1], white 1.  Eight-bit images are read as Pillow turns
    them grayscale.  16-bit, 32-bit and float images are read at the range
    of the smallest usual depth that holds their values: 8, 10, 12, 14 or
    16 bits (0 black, 255, 1023, 4095, 16383 or 65535 white), for floats
    [0, 1] first; values beyond all of them (negative ones, say) from the
    lowest to the highest.  So a 12-bit scan kept in a 16-bit file reads
    as bright as it was taken.
    """
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        low, high = image.getextrema()
        ranges = (1.0,) * (mode == "F") + (255, 1023, 4095, 16383, 65535)
        fits = [top for top in ranges if 0 <= low and high <= top]
        low, span = (0, fits[0]) if fits else (low, high - low or 1)
        clear = image.info.get("transparency") if mode != "F" else None

        def read(tile):
            values = np.asarray(tile, dtype=np.float64)
            if not np.isfinite(values).all():
                raise ClassifyError(f"{name}: some pixels are not numbers "
                                    f"(NaN or infinite values)")
            gray = (values - low) / span
            if isinstance(clear, int):          # one value marked transparent
                gray[values == clear] = 1.0
            return gray
        return read
    if mode == "LAB":                           # its L channel is the lightness
        return lambda tile: np.asarray(tile.getchannel("L"), dtype=np.float64) / 255.0
    transparent = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info

    def read(tile):
        if transparent:                         # transparent pixels count as white paper
            tile = tile.convert("RGBA")
            tile = Image.alpha_composite(Image.new("RGBA", tile.size, "white"), tile)
        return np.asarray(tile.convert("L"), dtype=np.float64) / 255.0
    return read


def _block_means(values: np.ndarray, factor: int) -> np.ndarray:
    """The means of ``values`` over factor x factor blocks (the last row and
    column of blocks may be smaller)."""
    starts = [np.arange(0, n, factor) for n in values.shape]
    sums = np.add.reduceat(np.add.reduceat(values, starts[0], axis=0), starts[1], axis=1)
    counts = [np.diff(np.append(s, n)) for s, n in zip(starts, values.shape)]
    return sums / np.outer(*counts)


# What each EXIF orientation asks for, as ImageOps.exif_transpose does it.
UPRIGHT = {2: np.fliplr, 3: lambda a: np.rot90(a, 2), 4: np.flipud, 5: np.transpose,
           6: lambda a: np.rot90(a, -1), 7: lambda a: np.rot90(a, 2).T,
           8: lambda a: np.rot90(a, 1)}


def _upright(values: np.ndarray, image: Image.Image) -> np.ndarray:
    """``values`` (the pixels of ``image``) turned as the image's EXIF
    orientation says; unchanged without one."""
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:       # damaged EXIF data: read the picture as it is stored
        return values
    turn = UPRIGHT.get(orientation) if isinstance(orientation, int) else None
    return np.ascontiguousarray(turn(values)) if turn else values


def _paper(gray: np.ndarray) -> np.ndarray:
    """The paper's brightness at every pixel of ``gray``: a quadratic in x
    and y fitted by least squares to the frame (the outer ``FRAME`` of each
    side), refitted five times without the pixels more than three robust
    standard deviations (or two grey levels) off it."""
    height, width = gray.shape
    margin = max(1, round(FRAME * min(height, width)))
    frame = np.ones_like(gray, dtype=bool)
    frame[margin:-margin, margin:-margin] = False
    rows, cols = np.nonzero(frame)
    y = np.linspace(-1, 1, height)
    x = np.linspace(-1, 1, width)

    def terms(y, x):
        return [np.ones_like(y * x), x, y, x * x, y * y, x * y]
    a = np.stack(terms(y[rows], x[cols]), axis=1)
    values = gray[rows, cols]
    keep = np.ones(len(values), dtype=bool)
    for _ in range(5):
        coefficients = np.linalg.lstsq(a[keep], values[keep], rcond=None)[0]
        off = np.abs(values - a @ coefficients)
        spread = max(3 * 1.4826 * np.median(off[keep]), 2 / 255)
        if np.array_equal(off <= spread, keep):
            break
        keep = off <= spread
    return sum(c * t for c, t in zip(coefficients, terms(y[:, None], x[None, :])))


def _digit_mask(mask: np.ndarray, name: str) -> np.ndarray:
    """The ink mask without specks; several digit-sized blobs side by side
    (no column in common) are refused, and so is ink that is all specks."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    sizes = ndimage.sum(mask, labels, index=np.arange(1, count + 1))
    total = sizes.sum()
    keep = [i + 1 for i, s in enumerate(sizes) if s >= SPECK_FRACTION * total]
    if not keep:
        raise ClassifyError(f"{name}: no digit found: the ink is {count:,} specks, "
                            f"none of them a stroke")
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
    """Write a 28x28 digit as a PNG, as MNIST stores it (ink white on black),
    to the new file ``path``.  Whatever is already at ``path`` (a file, a
    link, a folder) is left as it is: FileExistsError then."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    png = io.BytesIO()
    Image.fromarray(np.round(digit * 255).astype(np.uint8)).save(png, format="PNG")
    fd = os.open(os.fspath(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(fd, "wb") as f:
            f.write(png.getvalue())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)          # ours: made above, not there before
        raise
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
        elif _json_start(head):
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
    j, confidence, _ = classify_with_outputs(net, digit)
    return j, confidence


def classify_with_outputs(net, digit: np.ndarray) -> tuple[int, float, np.ndarray]:
    """``classify``'s digit and confidence, and the ten output activations
    they come from: network.py's and network2.py's sigmoid outputs,
    network3's softmax probabilities (draw.py shows them as bars)."""
    x = np.asarray(digit, dtype=np.float64).reshape(MNIST_SIZE * MNIST_SIZE, 1)
    if hasattr(net, "sizes"):             # network.py or network2.py
        outputs = net.feedforward(x)[:, 0]
        share = outputs / outputs.sum()
    else:                                 # network3: softmax probabilities
        import torch
        import network3
        with torch.no_grad():
            net.feedforward(torch.as_tensor(x.T, dtype=torch.float32).to(network3.device))
            share = outputs = net.output[0].double().cpu().numpy()
    j = int(np.argmax(share))
    return j, float(share[j]), outputs


#### The default network
# Used when no --net is given: trained by this recipe the first time, then
# kept in the data folder.  Raise DEFAULT_NET_VERSION whenever the recipe
# changes; a network kept by another recipe is trained again in any case.
DEFAULT_RECIPE = {"sizes": [784, 30, 10], "epochs": 10, "mini_batch_size": 10,
                  "eta": 0.5, "lmbda": 5.0, "seed": 12345678}
DEFAULT_NET_VERSION = 1


def default_net_folder() -> Path:
    """Where the default network is kept: the data folder."""
    return mnist_files.data_dir()


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
    """The default network and its accuracy on MNIST's test images: the one
    kept in ``default_net_path()`` if it was made by the current recipe,
    else one trained now and kept there.  Says on stdout which it is."""
    path = default_net_path()
    kept = kept_default_net(path)
    if kept is not None:
        net, accuracy = kept
        print(f"Using the default network kept in {path} "
              f"({accuracy:.2%} on MNIST's test images)")
        return net, accuracy
    recipe = DEFAULT_RECIPE
    print(f"Training the default network (network2 {recipe['sizes']}, "
          f"{recipe['epochs']} epochs) once; it is kept in {path}", flush=True)
    net, accuracy = train_default_net()
    keep_default_net(net, accuracy, path)
    print(f"The default network classifies {accuracy:.2%} of MNIST's test images.")
    return net, accuracy


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
    safe_files.write_json(record_path(path), {"recipe": DEFAULT_RECIPE,
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
    could not be classified or its input not saved, or the default network
    could not be made."""
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
            nets.append(("default network", default_network()[0]))
        for image in args.images:
            try:
                digit = mnist_image(image)
            except ClassifyError as e:
                print(f"classify.py: {e}", file=sys.stderr)
                failed += 1
                continue
            if args.save_input is not None:
                problem = _not_saved(digit, args.save_input / f"{Path(image).stem}.png")
                if problem:
                    print(f"classify.py: {problem}", file=sys.stderr)
                    failed += 1
            for name, net in nets:
                j, confidence = classify(net, digit)
                print(f"{_shown(image)}: {j} ({confidence:.0%}) by {_shown(name)}")
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
                        help="write each 28x28 input to DIR/<image name>.png (never "
                             "replacing a file already there)")
    return parser


#### Checking the command line's input
# Every file named on the command line is checked before any network is
# loaded or trained, so that a mistyped name costs no training run.

def argument_problems(args) -> list[str]:
    """One line for each problem with the command line: an image or --net
    file that is missing or cannot be read, a --save-input folder that
    cannot be written, two images whose inputs would be saved as one file,
    an input that would be saved where something already is (it is never
    replaced)."""
    problems = [_unreadable(image, "image") for image in args.images]
    problems += [_unreadable(net, "network") for net in args.net]
    if args.save_input is not None:
        problems.append(_unwritable(args.save_input, "the 28x28 inputs"))
        first = {}
        for image in args.images:
            name = f"{Path(image).stem}.png"
            target = args.save_input / name
            if first.setdefault(name, image) != image:
                problems.append(f"{_shown(image)}: its input would be saved as "
                                f"{_shown(target)}, like {_shown(first[name])}'s; "
                                f"rename one of them")
            elif os.path.lexists(target):
                problems.append(f"{_shown(image)}: its input would be saved as "
                                f"{_shown(target)}, which already exists; move that "
                                f"away or save into another folder")
    return [problem for problem in problems if problem]


def default_net_folder_problem() -> str | None:
    """Why the default network could not be kept after training it, if it
    is not kept already."""
    if default_net_path().exists():
        return None
    return _unwritable(default_net_folder(), "the default network")


def _unreadable(name: str, what: str) -> str | None:
    """Why the ``what`` file ``name`` cannot be read, or None."""
    path, name = Path(name), _shown(name)
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
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent     # the folder would be made in here
    if os.path.lexists(existing) and not existing.is_dir():
        it = "it" if existing == Path(folder) else _shown(existing)
        kind = ("a link to nothing" if not existing.exists() else
                "a file" if existing.is_file() else "not a folder")
        return f"{_shown(folder)}: cannot hold {what}: {it} is {kind}"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{_shown(folder)}: cannot hold {what}: {_shown(existing)} is not writable"
    return None


# Image files, when they are read: a pixel budget read from the header,
# and every way Pillow can fail to read a file turned into one line.
def _opened_image(path, name: str) -> Image.Image:
    """The image in the file ``path``, decoded, once its header shows no more
    than ``MAX_PIXELS`` pixels.  A file too large, not there, or that
    Pillow cannot read raises ClassifyError naming it (as ``name``)."""
    try:
        with warnings.catch_warnings():     # the budget below is smaller than Pillow's
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
            width, height = image.size
            if width * height <= MAX_PIXELS:
                image.load()
    except FileNotFoundError:
        raise ClassifyError(f"{name}: no such file") from None
    except Image.DecompressionBombError:
        raise ClassifyError(f"{name}: far more than {MAX_PIXELS // 10**6} million pixels "
                            f"(Pillow itself refuses it); scale it down first") from None
    except MemoryError:
        raise
    except Exception as e:      # Pillow's decoders fail in many ways on damaged files
        problem = " ".join(str(e).split())[:150] or type(e).__name__
        raise ClassifyError(f"{name}: not an image that can be read ({problem})") from None
    if width * height > MAX_PIXELS:
        image.close()
        raise ClassifyError(f"{name}: {width}x{height} pixels, more than the "
                            f"{MAX_PIXELS // 10**6} million this script reads; "
                            f"scale it down first")
    return image


def _not_saved(digit: np.ndarray, path: Path) -> str | None:
    """Save ``digit`` to the new file ``path`` (``save_input``); why it was
    not, or None."""
    try:
        save_input(digit, path)
    except OSError as e:
        if isinstance(e, FileExistsError) and e.filename == os.fspath(path):
            return f"{_shown(path)}: already exists; left as it is, the input not saved"
        return f"{_shown(path)}: the input could not be saved ({e.strerror or e})"
    return None


def _json_start(head: bytes) -> bool:
    """Whether the file starting ``head`` may be JSON text: after a UTF-8
    byte order mark (which some editors write) and white space, one of the
    characters a JSON value starts with."""
    text = head.removeprefix(codecs.BOM_UTF8)
    return not text or text.isspace() or text.lstrip()[:1] in b'{["-0123456789tfn'


def _shown(name) -> str:
    """A file name as it can be printed: bytes that are not UTF-8 (held in
    the name as surrogate escapes) are shown as \\xNN."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


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
    prefix = "not a network saved by network3 ("
    if text.startswith(prefix) and text.endswith(")"):
        text = text[len(prefix):-1]  # network3's own reason, such as its zip -0 hint
    for preamble in ("is not a saved network2 network:", "malformed network file:"):
        if text.startswith(preamble):
            text = text[len(preamble):].strip()
    return text if len(text) <= 150 else text[:147] + "..."


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
