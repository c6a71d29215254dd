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
network2.py (JSON) or network3.py.  For each image and network the digit
and its confidence are printed: for a softmax output (network3) the
probability of that digit, for sigmoid outputs (network.py, network2.py)
the winning output's share of the ten outputs' sum.

Without ``--net`` a quick default network is trained first (network2
[784, 30, 10], 2 epochs; a few seconds), and the script says so.  An image
that cannot be read, shows no ink or shows several digits side by side
gets a one-line message; the other images are still classified.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

import network2
from data_files import atomic_path

MNIST_SIZE = 28
BOX_SIZE = 20                 # MNIST digits were scaled to fit 20x20
INK_THRESHOLD = 0.25          # of the darkest ink: what counts as a stroke
FAINT = 0.15                  # fainter than this is paper
MIN_CONTRAST = 0.15           # ink must be this much darker than the paper
SPECK_FRACTION = 0.005        # ink blobs smaller than this share of the ink are specks
DIGIT_FRACTION = 0.15         # a blob with this share of the ink may be a digit
DEFAULT_SEED = 12345678


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
    """A network from a file written by network.py's or network2.py's
    ``save`` (JSON; network2.load reads both) or network3.py's."""
    path = Path(path)
    with open(path, "rb") as f:
        start = f.read(64).lstrip()
    if start.startswith(b"{"):
        return network2.load(path)
    import network3
    try:
        return network3.load(path)
    except ValueError as e:
        raise ClassifyError(f"{path}: not a network saved by network.py, network2.py "
                            f"or network3.py ({e})") from None


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


def default_net(seed: int = DEFAULT_SEED):
    """Train the quick default: network2 [784, 30, 10], cross-entropy,
    2 epochs, eta 0.5, lmbda 5.0, mini-batch 10; return it with its test
    accuracy (a fraction)."""
    import mnist_loader
    training_data, _, test_data = mnist_loader.load_data_wrapper()
    net = network2.Network([784, 30, 10], seed=seed)
    net.SGD(training_data, 2, 10, 0.5, lmbda=5.0)
    return net, net.accuracy(test_data) / len(test_data)


#### The command line
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Classify photographs or scans of handwritten digits with the book's networks.")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="photographs or scans")
    parser.add_argument("--net", action="append", default=[], metavar="FILE",
                        help="a saved network (repeat for several)")
    parser.add_argument("--save-input", type=Path, metavar="DIR",
                        help="write each 28x28 input to DIR/<image name>.png")
    args = parser.parse_args(argv)
    nets = []
    for path in args.net:
        try:
            nets.append((path, load_net(path)))
        except (OSError, ValueError) as e:
            print(f"classify.py: {e}", file=sys.stderr)
            return 2
    if not nets:
        print("No --net given: training a quick default network (network2 "
              "[784, 30, 10], 2 epochs, eta 0.5, lmbda 5.0) ...", flush=True)
        net, accuracy = default_net()
        print(f"The default network classifies {accuracy:.2%} of MNIST's test images.")
        nets.append(("default network", net))
    failed = 0
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
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
