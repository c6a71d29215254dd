"""exercises6
~~~~~~~~~~

Chapter 6's problems that need code, answered with network3 (subclasses
of its ``Network`` and functions using it):

- ``conv_layers``: the basic convolutional net, with sigmoid or tanh
  neurons, and with ``omit_FC=True`` the conv-pool layer straight into the
  softmax layer (conv.py's ``omit_FC`` experiment, for any activation);
- ``ScheduledNetwork``: network3's ``SGD``, whose early stopping and
  learning-rate schedule (chapter 3's rules, as network2 has them) answer
  the problem, plus the training accuracy per epoch, for
  ``plot_training_vs_validation``;
- ``accuracy_on``: the accuracy on any data, every example counted (the
  book's problem 5);
- ``AugmentedNetwork``: each mini-batch randomly rotated, shifted and
  skewed on the device as it is trained on, in place of the expanded file.

``exercises.py`` measures each against its baseline.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

import network3
from network3 import ConvPoolLayer, FullyConnectedLayer, Network, SoftmaxLayer, sigmoid
from reproduction import plot_series


def conv_layers(mini_batch_size: int, activation_fn=sigmoid, omit_FC: bool = False) -> list:
    """The basic convolutional net of chapter 6: 20 5x5 filters with 2x2
    max-pooling, a fully connected layer of 100 and a softmax layer of 10,
    every hidden neuron ``activation_fn`` (network3's ``sigmoid`` or
    ``tanh``).  ``omit_FC`` leaves out the fully connected layer.

    The problems: does the fully connected layer earn its place (look at
    how close the pooled features alone come), and do tanh neurons learn
    faster than sigmoid ones (look at the first epochs)?
    """
    layers = [ConvPoolLayer(image_shape=(mini_batch_size, 1, 28, 28),
                            filter_shape=(20, 1, 5, 5), poolsize=(2, 2),
                            activation_fn=activation_fn)]
    if omit_FC:
        return layers + [SoftmaxLayer(n_in=20 * 12 * 12, n_out=10)]
    return layers + [FullyConnectedLayer(n_in=20 * 12 * 12, n_out=100,
                                         activation_fn=activation_fn),
                     SoftmaxLayer(n_in=100, n_out=10)]


#### Early stopping, a learning-rate schedule, training accuracy
class ScheduledNetwork(Network):
    """network3's network whose ``SGD`` also records the training accuracy.

    The problems: give network3 chapter 3's early stopping and learning-rate
    schedule, and a diagnostic for overfitting.  The first is now in
    network3's own ``SGD``, in network2's words: ``early_stopping_n=n``
    stops once n epochs in a row bring no new best validation accuracy;
    ``eta_schedule_n=n`` halves eta after n such epochs at one eta, and
    stops at eta/128 (both off at 0).  What to look for: fewer epochs for
    about the same accuracy, and ``eta_history``.  The second is here:
    ``monitor_training_accuracy`` records ``training_accuracies`` after
    each epoch (through network3's ``after_epoch``), whose gap to
    ``validation_accuracies`` is the overfitting
    (``plot_training_vs_validation``).
    """

    def __init__(self, layers, mini_batch_size, **options):
        super().__init__(layers, mini_batch_size, **options)
        self.monitor_training_accuracy = False
        self.training_accuracies: list[float] = []

    def SGD(self, training_data, epochs, mini_batch_size, eta, validation_data,
            test_data, lmbda=0.0, *, early_stopping_n=0, eta_schedule_n=0,
            monitor_training_accuracy=False):
        """network3's ``SGD``; ``monitor_training_accuracy=True`` also
        records the training accuracy after each epoch."""
        self.monitor_training_accuracy = bool(monitor_training_accuracy)
        self.training_accuracies = []
        super().SGD(training_data, epochs, mini_batch_size, eta, validation_data,
                    test_data, lmbda, early_stopping_n=early_stopping_n,
                    eta_schedule_n=eta_schedule_n)

    def after_epoch(self, epoch, training_data):
        """The training accuracy, when SGD was asked to monitor it."""
        if self.monitor_training_accuracy:
            self.training_accuracies.append(self.accuracy(training_data))


def plot_training_vs_validation(net: ScheduledNetwork, path, title: str = ""):
    """Draw the training and validation accuracy (%) per epoch of ``net``'s
    last ``SGD`` (run with ``monitor_training_accuracy=True``) into a PNG.

    The problem: a plot for spotting overfitting.  Where the training curve
    keeps climbing and the validation curve has levelled off, more epochs
    only fit the training images better.
    """
    return plot_series(path, {"training": [100 * a for a in net.training_accuracies],
                              "validation": [100 * a for a in net.validation_accuracies]},
                       title=title or "training against validation accuracy",
                       xlabel="epoch", ylabel="accuracy (%)")


#### Accuracy on any data
def accuracy_on(net: Network, data) -> float:
    """The fraction of ``data``, a pair (images, labels) of tensors or
    arrays of any length, that ``net`` classifies right.

    The book's problem 5: network3 measures accuracy mini-batch by
    mini-batch, which drops a last partial mini-batch; this counts every
    example, through ``Network.predict``.
    """
    x, y = data
    labels = np.asarray(y.cpu() if torch.is_tensor(y) else y)
    return float(np.mean(net.predict(x) == labels))


#### On-the-fly augmentation
def affine_images(x: torch.Tensor, angles, skews, shifts) -> torch.Tensor:
    """The images ``x`` (rows of 784 pixels) each turned anticlockwise by
    its angle (radians), skewed by its skew (a horizontal shear: the row
    at height h above the centre moves h*skew pixels right) and moved by
    its (right, down) shift in pixels; bilinear, zeros outside.
    ``angles``, ``skews`` are tensors of n values, ``shifts`` of n pairs.
    """
    n = x.shape[0]
    images = x.reshape(n, 1, 28, 28)
    cos, sin = torch.cos(angles), torch.sin(angles)
    # affine_grid maps each output pixel (in [-1, 1] coordinates, y down) to
    # where it samples the input: the inverse of the wanted motion.
    # Inverse of rotation by a (anticlockwise on screen, y down): R(a)^-1 =
    # [[cos, -sin], [sin, cos]]; inverse of the shear [[1, -s], [0, 1]] is
    # [[1, s], [0, 1]]; the inverse motion applies them in reverse order.
    inverse_rotation = torch.stack([torch.stack([cos, -sin], -1),
                                    torch.stack([sin, cos], -1)], -2)
    inverse_shear = torch.zeros(n, 2, 2, dtype=x.dtype, device=x.device)
    inverse_shear[:, 0, 0] = inverse_shear[:, 1, 1] = 1
    inverse_shear[:, 0, 1] = skews
    matrix = inverse_shear @ inverse_rotation
    move = -(shifts.to(x.dtype) / 14.0)          # 14 pixels per unit of the grid
    theta = torch.cat([matrix, (matrix @ move.unsqueeze(-1))], dim=2)
    grid = F.affine_grid(theta, (n, 1, 28, 28), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False).reshape(n, 784)


class AugmentedNetwork(ScheduledNetwork):
    """The problem: expand the training data on the fly rather than from a
    file.  Before each step every image of the mini-batch is turned by up to
    ``max_rotation`` degrees, skewed by up to ``max_skew`` and moved by up to
    ``max_shift`` pixels each way (uniform draws from the network's own
    generator, seeded by ``seed``), on the device.  What to look for: the
    accuracy of training on the expanded file (five times the images)
    without making it, and with every epoch showing new variants.

    On a GPU its steps run eagerly (``capture=False`` unless asked
    otherwise): a captured CUDA graph would also have to advance the
    augmentation's generator on every replay, which network3's capture
    does only for the dropout generator.
    """

    def __init__(self, layers, mini_batch_size, *, seed=None, max_rotation=10.0,
                 max_shift=2.0, max_skew=0.2, capture=False, **options):
        super().__init__(layers, mini_batch_size, seed=seed, capture=capture, **options)
        self.max_rotation, self.max_shift, self.max_skew = max_rotation, max_shift, max_skew
        self.augment_generator = torch.Generator(device=network3.device)
        self.augment_generator.manual_seed(0 if seed is None else seed)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """The images x with a random rotation, skew and shift each."""
        n = x.shape[0]

        def uniform(*shape, limit):
            draw = torch.rand(*shape, generator=self.augment_generator, device=x.device)
            return (2 * draw - 1).to(x.dtype) * limit
        return affine_images(x, uniform(n, limit=math.radians(self.max_rotation)),
                             uniform(n, limit=self.max_skew),
                             uniform(n, 2, limit=self.max_shift))

    def update_mini_batch(self, x, y, eta, lmbda, num_training_batches):
        """The book's step on an augmented copy of the mini-batch."""
        with torch.no_grad():
            x = self.augment(x)
        super().update_mini_batch(x, y, eta, lmbda, num_training_batches)
