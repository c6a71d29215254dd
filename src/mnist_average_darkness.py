"""mnist_average_darkness
~~~~~~~~~~~~~~~~~~~~~~~

Chapter 1's naive baseline: guess a digit from how dark its image is.

From the 50,000 training images we work out the average darkness (the
sum of the pixel intensities) of each digit.  A test image is then
classified as the digit whose average darkness is nearest to its own.
The book reports 2,225 of the 10,000 test images classified correctly:
better than the 1,000 of random guessing, far worse than a network.

Run it from any folder: ``python src/mnist_average_darkness.py``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import mnist_loader
import safe_files


def avg_darknesses(training_data) -> dict[int, float]:
    """Map each digit to the mean darkness of its training images."""
    images, labels = training_data
    darkness = np.asarray(images, dtype=np.float64).sum(axis=1)
    return {int(d): float(darkness[labels == d].mean()) for d in np.unique(labels)}


def guess_digit(image, avgs: dict[int, float]) -> int:
    """The digit whose average darkness is closest to this image's."""
    darkness = float(np.sum(image, dtype=np.float64))
    return min(avgs, key=lambda d: abs(avgs[d] - darkness))


def classify(images, avgs: dict[int, float]) -> np.ndarray:
    """``guess_digit`` for every row of ``images`` at once."""
    digits = np.array(sorted(avgs))
    means = np.array([avgs[d] for d in digits])
    darkness = np.asarray(images, dtype=np.float64).sum(axis=1)
    # argmin picks the first (smallest) digit on a tie, as min() does above.
    return digits[np.argmin(np.abs(darkness[:, None] - means[None, :]), axis=1)]


def main(argv=()) -> int:
    """The book's script: print how many test images the baseline gets
    right.  It takes no options; ``argv`` is the command line's, so that
    ``--help`` works and anything else is refused before the data loads."""
    argparse.ArgumentParser(description=__doc__.split("\n\n")[1]).parse_args(list(argv))
    try:
        training_data, _, test_data = mnist_loader.load_data()
    except (OSError, safe_files.DataFileError) as error:
        raise SystemExit(f"mnist_average_darkness.py: {error}") from None
    avgs = avg_darknesses(training_data)
    correct = int(np.sum(classify(test_data[0], avgs) == test_data[1]))
    print("Baseline classifier using average darkness of image.")
    print(f"{correct} of {len(test_data[1])} values correct.")
    return correct


if __name__ == "__main__":
    main(sys.argv[1:])
