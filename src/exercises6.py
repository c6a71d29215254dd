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
  skewed on the device as it is trained on, in place of the expanded file;
- ``dbl_conv_layers`` and ``he_initialize``: the ReLU double conv net, and
  a weight initialization for rectified linear units;
- ``hidden_gradient_norms`` (and ScheduledNetwork's ``gradient_data``):
  chapter 5's measure of how fast each hidden layer learns, for network3
  nets, over training (``plot_gradient_norms``);
- ``EtaFunctionNetwork``: the learning rate as any function of the epoch.

``exercises.py`` measures each against its baseline.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

import network3
from network3 import ConvPoolLayer, FullyConnectedLayer, Network, ReLU, SoftmaxLayer, sigmoid
from plots import plot_series


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
    (``plot_training_vs_validation``).  And for the problem on unstable
    gradients, ``gradient_data`` records ``gradient_norms``: each hidden
    layer's ``hidden_gradient_norms`` on those images before training and
    after each epoch.
    """

    def __init__(self, layers, mini_batch_size, **options):
        super().__init__(layers, mini_batch_size, **options)
        self.monitor_training_accuracy = False
        self.training_accuracies: list[float] = []
        self.gradient_data = None
        self.gradient_norms: list[list[float]] = []

    def SGD(self, training_data, epochs, mini_batch_size, eta, validation_data,
            test_data, lmbda=0.0, *, early_stopping_n=0, eta_schedule_n=0,
            monitor_training_accuracy=False, gradient_data=None):
        """network3's ``SGD``; ``monitor_training_accuracy=True`` also
        records the training accuracy after each epoch, and
        ``gradient_data``, an (images, labels) pair, the hidden layers'
        gradient norms on it (``gradient_norms``: one row before training,
        then one per epoch)."""
        self.monitor_training_accuracy = bool(monitor_training_accuracy)
        self.training_accuracies = []
        self.gradient_data = (None if gradient_data is None
                              else _examples(self, gradient_data, "gradient_data"))
        self.gradient_norms = ([] if gradient_data is None
                               else [hidden_gradient_norms(self, self.gradient_data)])
        super().SGD(training_data, epochs, mini_batch_size, eta, validation_data,
                    test_data, lmbda, early_stopping_n=early_stopping_n,
                    eta_schedule_n=eta_schedule_n)

    def after_epoch(self, epoch, training_data):
        """The training accuracy and the gradient norms, as SGD was asked."""
        if self.monitor_training_accuracy:
            self.training_accuracies.append(self.accuracy(training_data))
        if self.gradient_data is not None:
            self.gradient_norms.append(hidden_gradient_norms(self, self.gradient_data))


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


#### Rectified linear units: the double conv net and its initialization
def dbl_conv_layers(mini_batch_size: int, activation_fn=ReLU, n: int = 100) -> list:
    """The book's double conv net (conv.py's ``dbl_conv_relu``, and
    ``dbl_conv`` with sigmoid): 20 5x5 filters and 2x2 max-pooling, 40
    20x5x5 filters and 2x2 max-pooling, a fully connected layer of ``n``
    and a softmax layer, every hidden neuron ``activation_fn``.  The
    weights are network3's, drawn from numpy's global generator."""
    return [ConvPoolLayer(image_shape=(mini_batch_size, 1, 28, 28),
                          filter_shape=(20, 1, 5, 5), poolsize=(2, 2),
                          activation_fn=activation_fn),
            ConvPoolLayer(image_shape=(mini_batch_size, 20, 12, 12),
                          filter_shape=(40, 20, 5, 5), poolsize=(2, 2),
                          activation_fn=activation_fn),
            FullyConnectedLayer(n_in=40 * 4 * 4, n_out=n, activation_fn=activation_fn),
            SoftmaxLayer(n_in=n, n_out=10)]


def fan_in(layer) -> int:
    """How many inputs each neuron of ``layer`` weighs: the input feature
    maps times the filter's area for a ConvPoolLayer, n_in otherwise."""
    if isinstance(layer, ConvPoolLayer):
        _, maps, height, width = layer.filter_shape
        return maps * height * width
    return layer.n_in


def network3_weight_std(layer) -> float:
    """The standard deviation network3 (as the book's program) draws
    ``layer``'s weights with: sqrt(1/n_out), n_out being the neurons of a
    fully connected layer, or for a ConvPoolLayer the filters times the
    filter's area over the pooling block's area."""
    if isinstance(layer, ConvPoolLayer):
        filters, _, height, width = layer.filter_shape
        return math.sqrt(np.prod(layer.poolsize) / (filters * height * width))
    return math.sqrt(1.0 / layer.n_out)


RELU_FUNCTIONS = (ReLU, torch.relu, F.relu)


def he_initialize(layers: list, zero_biases: bool = True) -> list:
    """Give every ReLU layer of ``layers``, freshly made, He et al.'s start
    for rectified linear units, and return ``layers``.

    The problem: a good weight initialization for ReLU nets.  network3
    draws weights with std sqrt(1/n_out), chosen for sigmoid neurons.  A
    ReLU passes half of a symmetric input's spread on, so a layer keeps the
    size of its signal (forward, and its gradient backward) when each
    weight has variance 2/n_in, n_in the inputs a neuron weighs
    (``fan_in``; 5x5 filters on 20 maps: 500).  Each ReLU layer's weights
    are its own draws rescaled from network3's std to sqrt(2/n_in), so a
    net of one seed with either start holds the same draws; the biases,
    N(0, 1) in network3, become 0 (``zero_biases``), as He et al. set them,
    so that no unit starts silent on every input.  The softmax layer keeps
    its zeros.  For the book's dbl_conv_relu net the weight stds go from
    0.089, 0.063, 0.1 to 0.283, 0.063, 0.056.  What to look for: faster
    first epochs than the default start, and how evenly the hidden layers
    learn (``hidden_gradient_norms``).
    """
    relu_layers = [layer for layer in layers
                   if getattr(layer, "activation_fn", None) in RELU_FUNCTIONS]
    if not relu_layers:
        raise ValueError("he_initialize: no layer uses ReLU neurons")
    for layer in relu_layers:
        if getattr(layer, "he_initialized", False):
            raise ValueError(f"he_initialize: a {type(layer).__name__} was already "
                             f"initialized; it rescales fresh layers only once")
        with torch.no_grad():
            layer.w.mul_(math.sqrt(2.0 / fan_in(layer)) / network3_weight_std(layer))
            if zero_biases:
                layer.b.zero_()
        layer.he_initialized = True
    return layers


#### Unstable gradients
def hidden_gradient_norms(net: Network, data) -> list[float]:
    """The length of the gradient of the cost with respect to each hidden
    layer's biases, the cost being the log-likelihood averaged over
    ``data`` (an (images, labels) pair), on the inference path, without
    the L2 term (biases are not regularized): chapter 5's measure of how
    fast a layer learns (``chapter5.hidden_norms``), for network3 nets.
    A ConvPoolLayer's bias is shared by every position of its feature
    map, so its gradient sums over them.

    The problem: are the gradients of ReLU nets unstable too?  Recorded
    over training (ScheduledNetwork's ``gradient_data``), the ratio of the
    last hidden layer's norm to the first's says whether early layers
    learn far more slowly, as in chapter 5's sigmoid nets.  (At the start
    every norm is 0: network3's softmax layer starts with zero weights, so
    no error reaches the hidden layers until its first step.)
    """
    x, y = _examples(net, data, "data")
    biases = [layer.b for layer in net.layers[:-1]]
    totals = [torch.zeros_like(b) for b in biases]
    with network3.device_settings(), torch.enable_grad():
        for start in range(0, x.shape[0], network3.EVAL_BATCH_SIZE):
            batch = slice(start, start + network3.EVAL_BATCH_SIZE)
            net.feedforward(x[batch])
            cost = F.cross_entropy(net.layers[-1].z, y[batch], reduction="sum")
            for total, grad in zip(totals, torch.autograd.grad(cost, biases)):
                total += grad
    return [float(torch.linalg.vector_norm(total.double())) / x.shape[0] for total in totals]


def plot_gradient_norms(net: ScheduledNetwork, path, title: str = ""):
    """Draw ``net.gradient_norms`` (from SGD with ``gradient_data``), one
    line per hidden layer on a log scale, epoch 0 being the start, into a
    PNG: chapter 5's speed-of-learning plot for a network3 net.  A norm of
    0 (every norm at the start) has no place on a log scale and is left out."""
    norms = np.array(net.gradient_norms, dtype=float)
    norms[norms == 0] = np.nan
    return plot_series(path, {f"layer {j + 1} ({type(layer).__name__})": norms[:, j]
                              for j, layer in enumerate(net.layers[:-1])},
                       title=title or "speed of learning of each hidden layer",
                       xlabel="epochs trained", ylabel="norm of dC/db (log scale)",
                       logy=True)


#### The learning rate as any function of the epoch
class EtaFunctionNetwork(ScheduledNetwork):
    """The problem: a learning rate that varies with the epoch in any way
    the caller likes.  ``SGD``'s ``eta`` may be a function: epoch j
    (counting from 0) then trains with ``eta(j)``, asked once, before its
    first step, and recorded in ``eta_history``; for instance
    ``lambda j: 0.1 * 0.9 ** j``, or a warm-up.  A number works as
    network3's.  The validation-driven halving (``eta_schedule_n``) is the
    other kind of schedule, and cannot be combined with a function.

    On a GPU its steps run eagerly (``capture=False`` unless asked
    otherwise): a captured CUDA graph replays the eta it was captured with.
    """

    def __init__(self, layers, mini_batch_size, *, capture=False, **options):
        super().__init__(layers, mini_batch_size, capture=capture, **options)
        self.eta_function = None
        self.epoch, self.epoch_eta = 0, None

    def SGD(self, training_data, epochs, mini_batch_size, eta, validation_data,
            test_data, lmbda=0.0, **options):
        """ScheduledNetwork's ``SGD``, with ``eta`` a number or a function
        of the epoch."""
        if not callable(eta):
            self.eta_function = None
            return super().SGD(training_data, epochs, mini_batch_size, eta,
                               validation_data, test_data, lmbda, **options)
        if options.get("eta_schedule_n"):
            raise ValueError("eta is a function of the epoch, so eta_schedule_n must be "
                             "0: the two schedules cannot both set eta")
        if self.capture and network3.device.type == "cuda":
            raise ValueError("eta is a function of the epoch, but this network replays "
                             "its steps as a CUDA graph, which keeps one eta; build it "
                             "with capture=False")
        self.eta_function, self.epoch = eta, 0
        self.epoch_eta = _eta_at(eta, 0)
        try:
            super().SGD(training_data, epochs, mini_batch_size, self.epoch_eta,
                        validation_data, test_data, lmbda, **options)
        finally:
            self.eta_function = None

    def update_mini_batch(self, x, y, eta, lmbda, num_training_batches):
        """The book's step, with this epoch's eta when eta is a function."""
        if self.eta_function is not None:
            if self.epoch_eta is None:
                self.epoch_eta = _eta_at(self.eta_function, self.epoch)
            eta = self.epoch_eta
        super().update_mini_batch(x, y, eta, lmbda, num_training_batches)

    def after_epoch(self, epoch, training_data):
        """Record the eta the epoch used; the next epoch asks for its own."""
        if self.eta_function is not None:
            self.eta_history[-1] = self.epoch_eta
            self.epoch, self.epoch_eta = epoch + 1, None
        super().after_epoch(epoch, training_data)


#### Checking the caller's input
def _eta_at(eta_function, epoch: int) -> float:
    """``eta_function(epoch)``, refused unless a finite number."""
    value = eta_function(epoch)
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number))
            or not math.isfinite(value)):
        raise ValueError(f"eta({epoch}) gave {value!r}; the learning rate must be a "
                         f"finite number")
    return float(value)


def _examples(net: Network, data, name: str):
    """``data``, an (images, labels) pair, as float32 and int64 tensors on
    the device, refused unless it holds images that fit the first layer
    and as many labels."""
    try:
        x, y = data
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an (images, labels) pair") from None
    x = torch.as_tensor(x, dtype=torch.float32).to(network3.device)
    y = torch.as_tensor(y).to(network3.device)
    first = net.layers[0]
    n_in = (int(np.prod(first.image_shape[1:])) if isinstance(first, ConvPoolLayer)
            else first.n_in)
    if x.ndim < 2 or x.shape[0] == 0 or x[0].numel() != n_in:
        raise ValueError(f"{name}: images of shape {tuple(x.shape)} do not fit the first "
                         f"layer, which takes {n_in} values per image")
    if y.shape != (x.shape[0],) or y.dtype.is_floating_point:
        raise ValueError(f"{name}: labels of shape {tuple(y.shape)} and type {y.dtype} "
                         f"do not match {x.shape[0]} images")
    return x, y.to(torch.int64)
