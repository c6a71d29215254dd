"""network3
~~~~~~~~

The chapter 6 program: deep networks built from layers (convolution with
max-pooling, fully connected, softmax), trained by mini-batch stochastic
gradient descent with optional L2 regularization and dropout.  The book
wrote it for Theano; this version runs on PyTorch, keeps the book's
interface and mathematics, and is used the same way from ``src/``::

    >>> import network3
    >>> from network3 import Network
    >>> from network3 import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer
    >>> training_data, validation_data, test_data = network3.load_data_shared()
    >>> mini_batch_size = 10
    >>> net = Network([
    ...     FullyConnectedLayer(n_in=784, n_out=100),
    ...     SoftmaxLayer(n_in=100, n_out=10)], mini_batch_size)
    >>> net.SGD(training_data, 60, mini_batch_size, 0.1,
    ...         validation_data, test_data)

Each layer has the book's two paths: the *dropout path*
(``output_dropout``), used for training, zeroes each input with
probability p_dropout; the *inference path* (``output``), used for
accuracy, scales the weighted input by 1 - p_dropout instead, so that both
see the same expected input.  The masks are drawn independently for each
layer, step and run (``dropout_layer`` says how the book's were drawn).  A
``ConvPoolLayer`` computes what the book's does, gradient included: true
convolution with the filters ``w`` held as the book holds them, and
Theano's max-pooling gradient (``max_pool_2d``).  After the same
``np.random.seed`` a network here is the book's network.

It runs on a CUDA GPU when there is one (``GPU = False`` below, or
``NNDL_FORCE_CPU=1``, keeps it on the CPU), in float32, the data on the
device for the whole run (the book's shared variables).  For speed, every
Network method that computes runs on one CPU thread (``CPU_TRAINING_THREADS``,
``device_settings``), and on a GPU SGD replays its step as a CUDA graph.
Beyond the book: ``Network.save`` and ``load`` (JSON and plain tensors:
loading runs no code), ``Network.predict``, and SGD's ``early_stopping_n``
and ``eta_schedule_n`` (chapter 3's, as in network2).

The file reads as the book's does: its program comes first, whole and in
the book's order, from the activation functions to ``dropout_layer``.
What this port adds to it (the device and threads, Theano's max-pooling
gradient, saving and loading, the Ctrl-C guard, the CUDA graph, the input
checks) follows, each in a section of its own after "Beyond the book".
"""


#### Libraries
# Standard library
from __future__ import annotations

import contextlib
import functools
import io
import json
import numbers
import os
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Callable, Sequence

# Third-party libraries
import numpy as np
import torch
import torch.nn.functional as F
from torch import sigmoid, tanh  # activation functions, as the book took Theano's

# Our own
import messages
import mnist_loader
import safe_files


#### Activation functions for neurons
# sigmoid and tanh are PyTorch's (imported above), as the book took Theano's.
def linear(z: torch.Tensor) -> torch.Tensor:
    """The identity: a neuron that passes on its weighted input."""
    return z


def ReLU(z: torch.Tensor) -> torch.Tensor:
    """Rectified linear unit, max(0, z)."""
    return torch.relu(z)


#### Constants
# Set GPU to False to stay on the CPU even when a CUDA GPU is present;
# the environment variable NNDL_FORCE_CPU=1 does the same without editing.
# (The device is chosen in "Device and threads", after the book's program.)
GPU = True


# Two decorators, not in the book, for the Network methods that compute;
# what they put in force is defined after the book's program, in "Device
# and threads" and "Ctrl-C and the training step".
def with_device_settings(method):
    """Make ``method`` run inside ``device_settings()``, unless the settings
    are already in force, as when SGD calls accuracy."""
    @functools.wraps(method)
    def method_with_device_settings(*args, **kwargs):
        if _settings_in_force():
            return method(*args, **kwargs)
        with device_settings():
            return method(*args, **kwargs)
    return method_with_device_settings


def with_whole_steps(method):
    """Run ``method`` (SGD) with the Ctrl-C guard in place for all its
    steps, so that each step is made whole or not at all (``_WholeSteps``)."""
    @functools.wraps(method)
    def method_with_whole_steps(*args, **kwargs):
        with _whole_steps.installed():
            return method(*args, **kwargs)
    return method_with_whole_steps


#### Load the MNIST data
def load_data_shared(filename: str | os.PathLike | None = None):
    """Return ``[(x, y), (x, y), (x, y)]``: training, validation and test data
    as tensors placed on the device once.

    x is float32 of shape (n, 784), y int64 of shape (n,).  By default the
    project's ``data/mnist.pkl.gz`` (built from the MNIST files when
    missing); the book's ``load_data_shared("../data/mnist_expanded.pkl.gz")``
    works from any folder (see ``mnist_loader.load_data``).
    """
    return [DataPair((torch.as_tensor(x, dtype=torch.float32).to(device),
                      torch.as_tensor(y, dtype=torch.int64).to(device)))
            for x, y in mnist_loader.load_data(filename)]


#### Main class used to construct and train networks
class Network:
    """A stack of layers trained by mini-batch stochastic gradient descent.

    ``layers`` is a list such as ``[ConvPoolLayer(...),
    FullyConnectedLayer(...), SoftmaxLayer(...)]``, each layer's input
    fitting the previous layer's output (this is checked); training uses
    mini-batches of exactly ``mini_batch_size``.  Beyond the book: ``seed``
    seeds this network's own dropout masks (else torch's global generator
    is used), and ``capture=False`` turns off the CUDA-graph capture of
    the training step on a GPU.
    """

    def __init__(self, layers: Sequence, mini_batch_size: int, *,
                 seed: int | None = None, capture: bool = True) -> None:
        self.layers = list(layers)
        self.mini_batch_size = _check_count("mini_batch_size", mini_batch_size, 1)
        _check_layers(self.layers, self.mini_batch_size)
        self.params = [param for layer in self.layers for param in layer.params]
        self.seed, self.capture, self.generator = seed, capture, None
        if seed is not None:
            self.generator = torch.Generator(device=device)
            self.generator.manual_seed(seed)
        for layer in self.layers:
            layer.generator = self.generator
        # The current mini-batch (the book's x and y) and the last outputs.
        self.x = self.y = self.output = self.output_dropout = None
        # Filled in by SGD: the accuracy after each epoch, and the best one.
        self.validation_accuracies: list[float] = []
        self.test_accuracies: list[float | None] = []
        self.best_validation_accuracy = self.best_iteration = self.test_accuracy = None
        # and, as network2 keeps them, the learning rate of each epoch and
        # why training stopped early, if it did (early_stopping_n, eta_schedule_n)
        self.eta_history: list[float] = []
        self.stop_reason: str | None = None
        self.capture_used = False  # whether the last SGD ran as a CUDA graph
        self._side_stream = None  # CUDA only: where training steps are captured

    @with_device_settings
    def feedforward(self, x: torch.Tensor | None,
                    x_dropout: torch.Tensor | None = None) -> None:
        """Pass images ``x`` (any number) along the inference path and/or the
        mini-batch ``x_dropout`` along the dropout path, each layer's output
        becoming the next one's input, as the book chains ``set_inpt``; the
        last layer's results become ``output`` and ``output_dropout``."""
        self.layers[0].set_inpt(x, x_dropout, self.mini_batch_size)
        for prev_layer, layer in zip(self.layers, self.layers[1:]):
            layer.set_inpt(None if x is None else prev_layer.output,
                           None if x_dropout is None else prev_layer.output_dropout,
                           self.mini_batch_size)
        if x is not None:
            self.output = self.layers[-1].output
        if x_dropout is not None:
            self.output_dropout = self.layers[-1].output_dropout

    @with_device_settings
    @with_whole_steps  # once for all the steps: see _WholeSteps
    def SGD(self, training_data, epochs: int, mini_batch_size: int, eta: float,
            validation_data, test_data, lmbda: float = 0.0, *,
            early_stopping_n: int = 0, eta_schedule_n: int = 0) -> None:
        """Train by mini-batch stochastic gradient descent, as the book does.

        Each full mini-batch, in the data's order, is one step of
        ``update_mini_batch``.  After each epoch the validation accuracy is
        printed and, when it is the best so far, the test accuracy
        (``test_data`` may be None); they are kept as
        ``validation_accuracies``, ``test_accuracies`` (None where not
        measured), ``best_validation_accuracy``, ``best_iteration`` and
        ``test_accuracy``.  Both accuracies are ``accuracy``'s.

        Not in the book, both off at 0 (chapter 3's rules, in network2's
        words): ``early_stopping_n=n`` stops once n epochs in a row bring
        no new best validation accuracy; ``eta_schedule_n=n`` halves eta
        after n such epochs at one eta instead, stopping at eta/128.
        ``eta_history`` holds the learning rate of every epoch run and
        ``stop_reason`` says why training stopped early, if it did.  Also
        not in the book: after each epoch's steps SGD calls ``after_epoch``,
        for a subclass to measure what it likes; and Ctrl-C keeps what was
        learnt up to the last whole step (``update_mini_batch``).
        """
        epochs, eta, lmbda, early_stopping_n, eta_schedule_n = _check_sgd(
            self, epochs, mini_batch_size, eta, lmbda, early_stopping_n, eta_schedule_n)
        training_x, training_y = _on_device(self, training_data, "training_data", finite=True)
        validation = _on_device(self, validation_data, "validation_data", finite=True)
        if test_data is not None:
            test = _on_device(self, test_data, "test_data", finite=True)
            test_x = test[0]
            self.test_mb_predictions = lambda i: self.predict(
                test_x[i * mini_batch_size:(i + 1) * mini_batch_size])

        # how many full mini-batches the training data holds
        num_training_batches = size(training_data) // mini_batch_size

        # Each step moves every parameter to param - eta*grad of the book's
        # regularized cost (update_mini_batch); on a GPU the steps are
        # replayed as a CUDA graph (the section "Speed", after the book's program).
        def steps(eta):
            return (CUDAGraphSteps(self, training_x, training_y, eta, lmbda,
                                   num_training_batches)
                    if self.capture and device.type == "cuda" else None)
        captured_steps = steps(eta)

        # train, measuring accuracy after each epoch
        self.validation_accuracies, self.test_accuracies = [], []
        self.best_validation_accuracy = self.best_iteration = self.test_accuracy = None
        self.eta_history, self.stop_reason = [], None
        best_accuracy, epochs_since_best, epochs_at_this_eta = -1.0, 0, 0
        start_eta = eta
        for epoch in range(epochs):
            for minibatch_index in range(num_training_batches):
                iteration = num_training_batches * epoch + minibatch_index
                if iteration % 1000 == 0:
                    print("Training mini-batch number {0}".format(iteration))
                if captured_steps is not None:
                    captured_steps(minibatch_index)
                else:
                    batch = slice(minibatch_index * mini_batch_size,
                                  (minibatch_index + 1) * mini_batch_size)
                    self.update_mini_batch(training_x[batch], training_y[batch],
                                           eta, lmbda, num_training_batches)
            self.eta_history.append(eta)
            self.after_epoch(epoch, (training_x, training_y))
            validation_accuracy = self.accuracy(validation)
            print("Epoch {0}: validation accuracy {1:.2%}".format(
                epoch, validation_accuracy))
            self.validation_accuracies.append(validation_accuracy)
            self.test_accuracies.append(None)
            if validation_accuracy >= (self.best_validation_accuracy or 0.0):
                print("This is the best validation accuracy to date.")
                self.best_validation_accuracy = validation_accuracy
                self.best_iteration = iteration
                if test_data is not None:
                    self.test_accuracy = self.test_accuracies[-1] = self.accuracy(test)
                    print("The corresponding test accuracy is {0:.2%}".format(
                        self.test_accuracy))
            # Early stopping and the schedule, as network2 has them: count
            # the epochs without a new best validation accuracy.
            if validation_accuracy > best_accuracy:
                best_accuracy, epochs_since_best, epochs_at_this_eta = validation_accuracy, 0, 0
            else:
                epochs_since_best += 1
                epochs_at_this_eta += 1
            if early_stopping_n and epochs_since_best >= early_stopping_n:
                self.stop_reason = "early_stopping"
                break
            if eta_schedule_n and epochs_at_this_eta >= eta_schedule_n:
                eta, epochs_at_this_eta = eta / 2, 0
                if eta <= start_eta / 128:  # halving is exact in binary
                    self.stop_reason = "eta_schedule"
                    break
                if captured_steps is not None:
                    # a CUDA graph replays the eta it was captured with
                    captured_steps = steps(eta)
        self.capture_used = captured_steps is not None and captured_steps.graph is not None
        print("Finished training network.")
        if self.best_iteration is not None:
            print("Best validation accuracy of {0:.2%} obtained at iteration {1}".format(
                self.best_validation_accuracy, self.best_iteration))
            if self.test_accuracy is not None:
                print("Corresponding test accuracy of {0:.2%}".format(self.test_accuracy))

    def after_epoch(self, epoch: int, training_data) -> None:
        """Called by SGD after the steps of each epoch, before the validation
        accuracy is measured, with the training data as (x, y) tensors on
        the device.  It does nothing here; a subclass may record what it
        likes (exercises6.ScheduledNetwork: the training accuracy)."""

    @with_device_settings
    def update_mini_batch(self, x: torch.Tensor, y: torch.Tensor, eta: float,
                          lmbda: float, num_training_batches: int) -> None:
        """One step of gradient descent on the mini-batch (x, y).

        The book's cost is the last layer's log-likelihood on the dropout
        path plus ``0.5*lmbda*sum(w**2)/num_training_batches`` over every
        layer's weights (not biases), and each parameter moves to ``param -
        eta*grad``.  The L2 term's gradient is (lmbda/num_training_batches)*w,
        so its part of the step is chapter 3's weight decay, applied first.
        The gradients are computed first; their changes to the parameters
        are then made with Ctrl-C held back (``_WholeSteps``), so that an
        interrupted step leaves the old parameters or the new, never a mix.
        It computes gradients even when called where PyTorch's are off (as
        a Ctrl-C can leave them, landing in a ``torch.no_grad`` block's exit).
        """
        self.x, self.y = x, y
        grad_off = not torch.is_grad_enabled()
        if grad_off:
            torch.set_grad_enabled(True)
        try:
            self.feedforward(None, x)
            grads = torch.autograd.grad(self.layers[-1].cost(self), self.params)
        finally:
            if grad_off:
                torch.set_grad_enabled(False)

        def changes():
            with torch.no_grad():
                if lmbda != 0.0:
                    for layer in self.layers:
                        layer.w *= 1.0 - eta * lmbda / num_training_batches
                for param, grad in zip(self.params, grads):
                    param.sub_(grad, alpha=eta)  # param -= eta * grad, with no temporary
        _whole_steps.apply(changes)

    #### Accuracy and predictions
    @with_device_settings
    def accuracy(self, data) -> float:
        """The accuracy on ``data``, an (x, y) pair, as SGD reports it: the
        fraction of its full mini-batches' examples classified right.

        As in the book, the last layer's ``accuracy(y)`` measures each
        batch: the fraction of the images just fed forward that it
        classifies as y.  The batches are large, for speed (up to
        EVAL_BATCH_SIZE images), and their fractions are combined weighted
        by their sizes, in float64.  Each batch holds a power of two of
        images, so that its fraction k/2**j is exact in binary: the sum is
        then the exact count, and the result is count/n to the last bit.
        """
        x, y = _on_device(self, data, "data")
        n = (size(data) // self.mini_batch_size) * self.mini_batch_size
        correct, start = 0.0, 0  # how many were classified right, in how many
        with torch.no_grad():
            while start < n:
                batch = 1 << (min(n - start, EVAL_BATCH_SIZE).bit_length() - 1)
                self.feedforward(x[start:start + batch])
                correct = correct + self.layers[-1].accuracy(y[start:start + batch]) * batch
                start += batch
        return float(correct / n)

    @with_device_settings
    def predict(self, x) -> np.ndarray:
        """The digits the trained network sees in images ``x``: a tensor or
        array of any number of images, one per row (shape (n, 784) for
        MNIST), or a single image.  Returns an int64 numpy array of n labels.
        """
        x = _images(self, torch.as_tensor(x, dtype=torch.float32).to(device))
        labels = [torch.zeros(0, dtype=torch.int64, device=device)]
        with torch.no_grad():
            for start in range(0, x.shape[0], EVAL_BATCH_SIZE):
                self.feedforward(x[start:start + EVAL_BATCH_SIZE])
                labels.append(self.layers[-1].y_out)
        return torch.cat(labels).cpu().numpy()

    #### Saving
    def save(self, filename: str | os.PathLike) -> None:
        """Save the architecture (as JSON), the weights and the ``seed`` (a
        record of the run) to ``filename``, atomically; ``network3.load``
        reads it back without running code from it."""
        blob = {"format": _FORMAT, "version": _VERSION,
                "mini_batch_size": self.mini_batch_size,
                "seed": self.seed,
                "architecture": json.dumps([_layer_config(l) for l in self.layers]),
                "params": [p.detach().to("cpu", copy=True) for p in self.params]}
        with safe_files.atomic_path(filename) as tmp:
            try:
                torch.save(blob, tmp)
            except RuntimeError as e:  # how torch reports a full disk
                raise safe_files.DataFileError(
                    f"{filename}: could not be written ({e})") from None


#### Define layer types
class ConvPoolLayer:
    """A convolutional layer followed by max-pooling.

    ``filter_shape`` is (number of filters, input feature maps, filter
    height, filter width); ``image_shape`` (mini-batch size, input feature
    maps, image height, image width); ``poolsize`` the (height, width) of
    the pooling blocks.  As in the book: valid convolution, the maximum of
    each non-overlapping pooling block (``max_pool_2d``; a partial block
    at the edge is dropped), then bias and activation; no dropout.  The
    convolution is a true one, as Theano's: ``w[f, m]`` is turned through
    180 degrees before sliding over feature map m (PyTorch's ``conv2d``
    alone would not turn it), so ``w`` holds the book's filters.
    """

    def __init__(self, filter_shape, image_shape, poolsize=(2, 2),
                 activation_fn=sigmoid, rng=None) -> None:
        self.filter_shape = _int_tuple(filter_shape, 4, "filter_shape")
        self.image_shape = _int_tuple(image_shape, 4, "image_shape")
        self.poolsize = _int_tuple(poolsize, 2, "poolsize")
        self.activation_fn = _check_activation(activation_fn)
        self.output_shape = _check_conv_shapes(self.filter_shape, self.image_shape,
                                               self.poolsize)
        # the initial weights and biases, drawn in the book's order
        filters, _, fh, fw = self.filter_shape
        n_out = filters * fh * fw / np.prod(self.poolsize)
        rng = np.random if rng is None else rng
        # Speed, on the CPU: oneDNN convolves faster with the filters stored
        # channels-last, and max-pooling a channels-last tensor is several
        # times faster than the default layout (about 85 against 460 us for
        # 10x20x24x24 here).  Only the order in memory differs, not the values.
        self.memory_format = (torch.channels_last if device.type == "cpu"
                              else torch.contiguous_format)
        self.w = _param(rng.normal(loc=0, scale=np.sqrt(1.0 / n_out),
                                   size=self.filter_shape), self.memory_format)
        self.b = _param(rng.normal(loc=0, scale=1.0, size=(filters,)))
        self.params = [self.w, self.b]
        self.generator = None

    def set_inpt(self, inpt, inpt_dropout, mini_batch_size: int) -> None:
        """Compute ``output`` from ``inpt`` (inference path, any number of
        images) and/or ``output_dropout`` from ``inpt_dropout`` (dropout
        path, one mini-batch); either may be None.  Convolutional layers use
        no dropout, so both paths compute the same thing."""
        filters = torch.flip(self.w, (2, 3))  # true convolution, as Theano's conv2d
        if inpt is not None:
            self.inpt = inpt.reshape(-1, *self.image_shape[1:])
            conv_out = F.conv2d(self.inpt, filters)
            pooled_out = max_pool_2d(
                conv_out.contiguous(memory_format=self.memory_format), self.poolsize)
            self.output = self.activation_fn(pooled_out + self.b.view(1, -1, 1, 1))
        if inpt_dropout is not None:
            self.inpt_dropout = inpt_dropout.reshape(mini_batch_size, *self.image_shape[1:])
            conv_out = F.conv2d(self.inpt_dropout, filters)
            pooled_out = max_pool_2d(
                conv_out.contiguous(memory_format=self.memory_format), self.poolsize)
            self.output_dropout = self.activation_fn(pooled_out + self.b.view(1, -1, 1, 1))

    @property
    def y_out(self) -> torch.Tensor:
        return torch.argmax(self.output.reshape(self.output.shape[0], -1), dim=1)


class FullyConnectedLayer:
    """A layer of ``n_out`` neurons, each connected to all ``n_in`` inputs.

    Weights ``w`` (n_in, n_out) are drawn from N(0, 1/n_out), biases ``b``
    from N(0, 1).  With ``p_dropout`` > 0 the dropout path zeroes each input
    with that probability, and the inference path scales the weighted input
    by 1 - p_dropout.
    """

    def __init__(self, n_in: int, n_out: int, activation_fn=sigmoid,
                 p_dropout: float = 0.0, rng=None) -> None:
        self.n_in = _check_count("n_in", n_in, 1)
        self.n_out = _check_count("n_out", n_out, 1)
        self.activation_fn = _check_activation(activation_fn)
        self.p_dropout = _probability(p_dropout)
        self.output_shape = (self.n_out,)
        # the initial weights and biases
        rng = np.random if rng is None else rng
        self.w = _param(rng.normal(loc=0.0, scale=np.sqrt(1.0 / self.n_out),
                                   size=(self.n_in, self.n_out)))
        self.b = _param(rng.normal(loc=0.0, scale=1.0, size=(self.n_out,)))
        self.params = [self.w, self.b]
        self.generator = None

    def set_inpt(self, inpt, inpt_dropout, mini_batch_size: int) -> None:
        """Compute ``output`` from ``inpt`` (inference path, any number of
        rows) and/or ``output_dropout`` from ``inpt_dropout`` (dropout path,
        one mini-batch); either may be None."""
        if inpt is not None:
            self.inpt = inpt.reshape(-1, self.n_in)
            self.output = self.activation_fn(
                (1 - self.p_dropout) * (self.inpt @ self.w) + self.b)
        if inpt_dropout is not None:
            self.inpt_dropout = dropout_layer(
                inpt_dropout.reshape(mini_batch_size, self.n_in), self.p_dropout,
                self.generator)
            self.output_dropout = self.activation_fn(self.inpt_dropout @ self.w + self.b)

    @property
    def y_out(self) -> torch.Tensor:
        return torch.argmax(self.output, dim=1)


class SoftmaxLayer:
    """The output layer: ``n_out`` softmax neurons, weights and biases zero.

    Dropout works as in FullyConnectedLayer.  The weighted inputs are kept
    as ``z`` and ``z_dropout``; ``cost(net)`` is the negative mean
    log-likelihood of the mini-batch's labels on the dropout path.
    """

    def __init__(self, n_in: int, n_out: int, p_dropout: float = 0.0) -> None:
        self.n_in = _check_count("n_in", n_in, 1)
        self.n_out = _check_count("n_out", n_out, 1)
        self.p_dropout = _probability(p_dropout)
        self.output_shape = (self.n_out,)
        # the initial weights and biases
        self.w = _param(np.zeros((self.n_in, self.n_out)))
        self.b = _param(np.zeros((self.n_out,)))
        self.params = [self.w, self.b]
        self.generator = None

    def set_inpt(self, inpt, inpt_dropout, mini_batch_size: int) -> None:
        """As FullyConnectedLayer's, with softmax for the activation."""
        if inpt is not None:
            self.inpt = inpt.reshape(-1, self.n_in)
            self.z = (1 - self.p_dropout) * (self.inpt @ self.w) + self.b
            self.output = torch.softmax(self.z, dim=1)
        if inpt_dropout is not None:
            self.inpt_dropout = dropout_layer(
                inpt_dropout.reshape(mini_batch_size, self.n_in), self.p_dropout,
                self.generator)
            self.z_dropout = self.inpt_dropout @ self.w + self.b
            self.output_dropout = torch.softmax(self.z_dropout, dim=1)

    @property
    def y_out(self) -> torch.Tensor:
        # softmax preserves order, so the largest weighted input wins
        return torch.argmax(self.z, dim=1)

    def cost(self, net: Network) -> torch.Tensor:
        """Return the log-likelihood cost: -mean(log output_dropout[i, y_i]).

        Computed from the weighted inputs with log-softmax, the numerically
        safe form of log(softmax(z)).
        """
        return F.cross_entropy(self.z_dropout, net.y)

    def accuracy(self, y: torch.Tensor) -> torch.Tensor:
        """The fraction of the latest inference batch classified as ``y``,
        in float64, as Theano's mean of the book's comparison gives it."""
        return torch.eq(y, self.y_out).to(torch.float64).mean()


#### Miscellanea
def size(data) -> int:
    """The number of examples in ``data``, an (x, y) pair."""
    return data[0].shape[0]


def dropout_layer(layer: torch.Tensor, p_dropout: float,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero each entry of ``layer`` with probability ``p_dropout``; the others
    are kept unscaled.

    The masks are drawn otherwise than the book's.  The book's
    dropout_layer gives each layer a random stream of its own, seeded with
    one constant: layers whose inputs have the same shape get the same mask
    at every step (masks of other shapes begin with the same draws), and
    every run, each member of an ensemble included, sees the same sequence
    of masks whatever ``np.random.seed`` was.  Here every mask is a new
    draw, independent between layers, steps and runs: from the network's
    own generator when it was built with ``seed=`` (a run then repeats
    exactly), else from torch's global one.  Independent masks are what
    dropout means (each step trains a randomly thinned network, each
    layer's thinning its own), and they let ensemble members differ in
    their masks as well as their initial weights; the book's masks
    themselves could not be reproduced anyway, PyTorch's generators not
    being Theano's.
    """
    if p_dropout == 0.0:
        return layer
    mask = torch.empty_like(layer).bernoulli_(1.0 - p_dropout, generator=generator)
    return layer * mask


#### Beyond the book
# The book's program ends here.  The sections below are this port's own,
# each used by name in the program above: what Theano did for the book
# (choosing the device, max-pooling's gradient), what the book does not
# have (data pairs that refuse a slice, saving and loading, the Ctrl-C
# guard, input checks) and what makes a step fast on a GPU.


#### Device and threads
# Where network3 computes and how: the device (a CUDA GPU when there is
# one, unless GPU is False or NNDL_FORCE_CPU is set), said once on import;
# the batch size for measuring accuracy; the threads PyTorch may use on the
# CPU and, on a GPU, full float32; and _param, which places a layer's
# weights on the device.  The book's Constants block set Theano's device
# and float32 once; PyTorch needs the device named for each tensor, and its
# default of many threads makes the book's small mini-batches slow.
FORCE_CPU_ENV = "NNDL_FORCE_CPU"


def _choose_device() -> tuple[torch.device, str]:
    if not GPU:
        return torch.device("cpu"), "GPU = False in network3.py"
    if os.environ.get(FORCE_CPU_ENV, "").strip() not in ("", "0"):
        return torch.device("cpu"), f"{FORCE_CPU_ENV} is set"
    if not torch.cuda.is_available():
        return torch.device("cpu"), "no CUDA GPU available"
    return torch.device("cuda"), torch.cuda.get_device_name(0)


device, _why = _choose_device()
# Said on stderr, with the other progress lines, so stdout holds the book's.
if device.type == "cuda":
    print(f"network3: running on the GPU ({_why}); to use the CPU instead, "
          f"set GPU = False in network3.py or {FORCE_CPU_ENV}=1.", file=sys.stderr)
else:
    print(f"network3: running on the CPU ({_why}).", file=sys.stderr)

# Images per batch when measuring accuracy or predicting (the answers do
# not depend on it): on the CPU small batches stay in cache (basic_conv,
# predict on 10,000 images, one thread, fastest of 3: 0.30 s in batches of
# 128, 0.29 s of 100, 0.70 s of 1024).  Powers of two, for accuracy's sake.
EVAL_BATCH_SIZE = 1024 if device.type == "cuda" else 128

# Threads PyTorch uses on the CPU while network3 computes: in SGD and in
# every other Network method that computes (None: PyTorch's setting).  A
# mini-batch of 10 is too small to share out: with PyTorch's default and
# another program busy on one core, a shallow-net epoch took 99.5 s against
# 1.7 s on one thread.
CPU_TRAINING_THREADS: int | None = 1


@contextlib.contextmanager
def device_settings():
    """Compute inside as network3 does, then give the caller's settings back.

    On the CPU that is CPU_TRAINING_THREADS threads; on a GPU, full float32
    (no TF32 shortcuts).  Each Network method that computes (feedforward,
    update_mini_batch, SGD, accuracy, predict) runs inside, as the line
    ``@with_device_settings`` above it says.
    """
    threads = torch.get_num_threads()
    if device.type == "cpu" and CPU_TRAINING_THREADS is not None:
        torch.set_num_threads(CPU_TRAINING_THREADS)
    if device.type == "cuda":
        conv, matmul = torch.backends.cudnn.conv, torch.backends.cuda.matmul
        precisions = conv.fp32_precision, matmul.fp32_precision
        conv.fp32_precision = matmul.fp32_precision = "ieee"
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        if device.type == "cuda":
            conv.fp32_precision, matmul.fp32_precision = precisions


def _settings_in_force() -> bool:
    """Whether ``device_settings()`` is already in force.  ``with_device_settings``
    then calls its method at once (the outer call gives the caller's settings
    back): a training step calls two such methods, and entering
    device_settings costs about 1.9 us, 1.5% of a shallow-net step (131 us)
    on our 2-core machine."""
    if device.type == "cuda":
        return (torch.backends.cudnn.conv.fp32_precision
                == torch.backends.cuda.matmul.fp32_precision == "ieee")
    return CPU_TRAINING_THREADS in (None, torch.get_num_threads())


def _param(values: np.ndarray, memory_format=torch.contiguous_format) -> torch.Tensor:
    """A float32 parameter on the device, from numpy's initial values."""
    tensor = torch.tensor(np.asarray(values, dtype=np.float32), device=device)
    return tensor.contiguous(memory_format=memory_format).requires_grad_()


#### The book's max-pool gradient
# ConvPoolLayer pools with max_pool_2d, as the book does with Theano's.
# PyTorch's max-pooling computes the same maxima but a different gradient
# where a block holds its maximum more than once, which MNIST's saturated
# pixels make common; so max_pool_2d keeps PyTorch's forward and gives it
# Theano's backward, through an autograd function of its own.
def max_pool_2d(z: torch.Tensor, ds) -> torch.Tensor:
    """The maximum over each non-overlapping ``ds`` = (height, width) block
    of ``z`` (partial blocks at the edge dropped), with the book's gradient.

    Where several inputs of a block equal its maximum, Theano's max-pooling
    (the book's) passes the block's gradient to every one of them; PyTorch's
    ``max_pool2d`` passes it to one.  Ties are common on MNIST: saturated
    pixels give equal convolution outputs.  Tensor operations only, so it
    runs the same on the CPU and CUDA, and inside a captured CUDA graph.
    """
    return _BooksMaxPool.apply(z, tuple(ds))


class _BooksMaxPool(torch.autograd.Function):
    """max_pool_2d: PyTorch's max-pooling forward, the book's backward."""

    @staticmethod
    def forward(ctx, z, ds):
        pooled = F.max_pool2d(z, ds)
        ctx.save_for_backward(z, pooled)
        ctx.ds = ds
        return pooled

    @staticmethod
    def backward(ctx, grad_pooled):
        z, pooled = ctx.saved_tensors
        (_, _, height, width), (h, w), (ph, pw) = z.shape, pooled.shape[2:], ctx.ds
        # each block's maximum and gradient, spread back over the block
        spread = (h * ph, w * pw)
        maxima = F.interpolate(pooled, size=spread, mode="nearest")
        # (in pooled's memory layout: spreading a tensor of another layout,
        # as the gradient from a fully connected layer is, took 5x longer)
        layout = (torch.channels_last if pooled.is_contiguous(memory_format=torch.channels_last)
                  else torch.contiguous_format)
        grad = F.interpolate(grad_pooled.contiguous(memory_format=layout), size=spread,
                             mode="nearest")
        # grad where z equals its block's maximum, else 0 (in place, with a
        # float mask: on the CPU much faster than multiplying by a bool one)
        grad_z = grad.mul_(maxima.eq_(z[:, :, :h * ph, :w * pw]))
        if spread != (height, width):  # dropped edge rows, columns: no gradient
            grad_z = F.pad(grad_z, (0, width - w * pw, 0, height - h * ph))
        return grad_z, None


#### The data sets as (images, labels) pairs
# load_data_shared returns each data set as a DataPair: the book's (x, y)
# pair of shared variables, with one mistake refused that the book's
# chapter 3 habits invite (slicing the pair as if it were a list).
class DataPair(tuple):
    """An (images, labels) pair, as ``load_data_shared`` returns each data set.

    It is the book's pair in every use the book makes of it (``x, y =
    data``, ``data[0]``, ``data[1]``, ``size(data)``), with one difference:
    slicing the pair itself, as chapter 3's lists are sliced
    (``training_data[:1000]``), would give back the whole pair and so
    train on every image; that is refused, and the message shows how to
    take the first images of each part instead.
    """

    def __getitem__(self, index):
        if isinstance(index, slice):
            bounds = ":".join("" if v is None else str(v)
                              for v in (index.start, index.stop, index.step)).rstrip(":")
            raise TypeError(
                f"chapter 6's data sets are (images, labels) pairs, and slicing a pair "
                f"slices the pair, not the images: for those images and their labels "
                f"write (training_data[0][{bounds}], training_data[1][{bounds}])")
        return super().__getitem__(index)


#### Saving and loading networks
# A file holds, through torch.save, only JSON text, numbers and float32
# tensors.  Its version says how ConvPoolLayer filters are held: version 2
# as the book does (ConvPoolLayer.w); version 1, written before, turned
# through 180 degrees.  load() reads both and turns version 1 filters round.
#
# The file is a zip archive, as torch.save writes it, and load() reads it
# itself rather than through torch.load, which unpacks data.pkl whole
# before anything is checked and maps each tensor from where a stored
# member's bytes would begin (an archive re-zipped with compression, or a
# member shorter than its tensor, then loads as garbage).  First the whole
# archive is checked (safe_files.stored_zip_members): its directory within
# MAX_ZIP_DIRECTORY_BYTES and MAX_ZIP_MEMBERS; every member stored as it
# is (not compressed, not encrypted), where its directory entry says,
# inside the file, overlapping no other member, with the CRC-32 its entry
# gives; all of them in one folder; data.pkl at most MAX_PICKLE_BYTES.
# Then data.pkl, once no value in it stands for more than MAX_PICKLE_ITEMS
# others (safe_files.check_pickle_sharing), is read by PyTorch's weights-only
# unpickler, which makes only tensors, numbers, strings and containers,
# and each tensor is given the bytes of its member, read into memory, only
# if they are exactly the bytes it needs.  So reading a file of n bytes
# holds at most n bytes of tensors, plus what a pickle of MAX_PICKLE_BYTES
# can make; any other file is refused before PyTorch reads anything.  As
# measured (peak RSS above a fresh process's): loading a 45.6 MB file of a
# 784-3000-3000-10 network took 205 MiB, the new network's own weights
# included; a 1 MiB data.pkl of a million empty dicts, the costliest pickle
# we know of, 95 MiB.
_FORMAT, _VERSION, _VERSIONS_READ = "network3", 2, (1, 2)
_LAYER_TYPES = {cls.__name__: cls for cls in (ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer)}
MAX_PICKLE_BYTES = 1 << 20        # a network's data.pkl takes about 300 bytes a layer
MAX_PICKLE_ITEMS = 1 << 20
MAX_ZIP_MEMBERS = 10_000          # torch.save writes two members a layer, and 6 more
MAX_ZIP_DIRECTORY_BYTES = 1 << 21

# Names under which save() records an activation function; PyTorch's own
# ReLU is saved as ours.
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "linear": linear, "ReLU": ReLU, "sigmoid": sigmoid, "tanh": tanh}
_ACTIVATION_NAMES = {**{fn: name for name, fn in ACTIVATIONS.items()},
                     torch.relu: "ReLU", F.relu: "ReLU"}


class NetworkFileError(ValueError):
    """A file is not a network saved by ``Network.save``, or is damaged."""


def _layer_config(layer) -> dict:
    """The constructor arguments that rebuild ``layer``, as JSON-able data."""
    kind = type(layer).__name__
    if _LAYER_TYPES.get(kind) is not type(layer):
        raise ValueError(f"cannot save a layer of type {kind}")
    config = ({"type": kind, "filter_shape": list(layer.filter_shape),
               "image_shape": list(layer.image_shape), "poolsize": list(layer.poolsize)}
              if kind == "ConvPoolLayer" else
              {"type": kind, "n_in": layer.n_in, "n_out": layer.n_out,
               "p_dropout": layer.p_dropout})
    if kind != "SoftmaxLayer":
        config["activation_fn"] = _activation_name(layer.activation_fn)
    return config


def _activation_name(fn) -> str:
    with contextlib.suppress(KeyError, TypeError):  # TypeError: fn unhashable
        return _ACTIVATION_NAMES[fn]
    raise ValueError(f"cannot save the activation function {fn!r}; save() knows only "
                     f"{', '.join(ACTIVATIONS)}")


def load(filename: str | os.PathLike) -> Network:
    """Load a network written by ``Network.save``; it predicts exactly as the
    saved one did.  Only plain tensors and JSON are read: no code runs.  The
    archive is checked whole before anything in it is read (see the comment
    at the head of this section); the file's entries and each layer's keys
    must be those ``save`` writes, of the types it writes them; each
    tensor's shape is checked against the shapes the saved architecture
    implies before any layer is built; each must be float32, finite, and
    stored in no more bytes than its values need.  Any other file raises
    ``NetworkFileError`` naming it."""
    path = Path(filename)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such network file")
    try:
        blob = _read_network_file(path)
    except MemoryError:
        raise NetworkFileError(f"{path}: too large to load into memory") from None
    except Exception as e:
        problem = str(e) if isinstance(e, safe_files.ArchiveError) else messages.describe_error(e)
        raise NetworkFileError(f"{path}: not a network saved by network3 ({problem})") from None
    try:
        version, seed, mini_batch_size, configs, saved_params = _check_saved_network(blob)
        shapes = [shape for config in configs for shape in _param_shapes(config)]
        if not isinstance(saved_params, list) or len(saved_params) != len(shapes):
            raise ValueError(f"expected {len(shapes)} weight tensors for this architecture")
        for j, (saved, shape) in enumerate(zip(saved_params, shapes)):
            _check_saved_tensor(j, saved, shape)
        # The layers' throw-away initial weights come from a generator of
        # their own, so that loading leaves numpy's global random state alone.
        rng = np.random.RandomState(0)
        net = Network([_layer_from_config(dict(config), rng) for config in configs],
                      mini_batch_size, seed=seed)
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, RuntimeError,
            MemoryError) as e:
        problem = str(e) if type(e) is ValueError else messages.describe_error(e)
        raise NetworkFileError(f"{path}: malformed network file: {problem}") from None
    with torch.no_grad():
        for param, saved in zip(net.params, saved_params):
            param.copy_(saved)
        for layer in net.layers:
            if version == 1 and isinstance(layer, ConvPoolLayer):
                layer.w.copy_(torch.flip(layer.w, (2, 3)))  # to the book's orientation
    return net


def _param_shapes(config: dict) -> list[tuple[int, ...]]:
    """The shapes of the w and b of the layer ``config`` describes, worked out
    from its numbers alone, so that no layer is built for a forged file."""
    kind = config.get("type")
    if type(kind) is not str or kind not in _LAYER_TYPES:
        raise ValueError(f"unknown layer type {messages.describe(kind)}")
    if kind == "ConvPoolLayer":
        filter_shape = _int_tuple(config.get("filter_shape"), 4, "filter_shape")
        return [filter_shape, filter_shape[:1]]
    n_in, n_out = (_check_count(key, config.get(key), 1) for key in ("n_in", "n_out"))
    return [(n_in, n_out), (n_out,)]


def _check_saved_tensor(j: int, saved, shape: tuple[int, ...]) -> None:
    """Weight tensor ``j`` of a file must be a finite float32 tensor of
    ``shape`` whose storage holds just its values."""
    if not isinstance(saved, torch.Tensor) or tuple(saved.shape) != shape:
        got = tuple(saved.shape) if isinstance(saved, torch.Tensor) else type(saved).__name__
        raise ValueError(f"weight tensor {j} is {got}, expected {shape}")
    if saved.layout != torch.strided or saved.device.type != "cpu":
        raise ValueError(f"weight tensor {j} is a {saved.layout} tensor on "
                         f"{saved.device.type}, not a dense tensor in memory")
    if saved.dtype != torch.float32:
        raise ValueError(f"weight tensor {j} is {saved.dtype}, expected float32")
    stored, needed = saved.untyped_storage().nbytes(), saved.numel() * saved.element_size()
    if saved.storage_offset() != 0 or stored != needed:
        raise ValueError(f"weight tensor {j} is stored in {stored:,} bytes; "
                         f"its {saved.numel():,} values need {needed:,}")
    if not torch.isfinite(saved).all():
        raise ValueError(f"weight tensor {j} holds values that are not finite "
                         f"(NaN or infinity)")


def _layer_from_config(config: dict, rng):
    """The layer that ``_layer_config`` describes (its type already checked
    by ``_param_shapes``), with throw-away weights."""
    kind = config.pop("type")
    if "activation_fn" in config:
        if config["activation_fn"] not in ACTIVATIONS:
            raise ValueError(f"unknown activation function "
                             f"{messages.describe(config['activation_fn'])}")
        config["activation_fn"] = ACTIVATIONS[config["activation_fn"]]
    if kind != "SoftmaxLayer":
        config["rng"] = rng
    return _LAYER_TYPES[kind](**config)


def _read_network_file(path: Path):
    """The object ``Network.save`` pickled into the archive at ``path``,
    read as the comment at the head of this section says."""
    with open(path, "rb") as f:
        members, folder = safe_files.stored_zip_members(
            f, os.fstat(f.fileno()).st_size, MAX_ZIP_MEMBERS, MAX_ZIP_DIRECTORY_BYTES,
            "a network file")
        if f"{folder}/data.pkl" not in members:
            raise safe_files.ArchiveError("it has no data.pkl, the member torch.save writes")
        start, length = members[f"{folder}/data.pkl"]
        if length > MAX_PICKLE_BYTES:
            raise safe_files.ArchiveError(f"its data.pkl takes {length:,} bytes, more than the "
                              f"{MAX_PICKLE_BYTES:,} a network file's may take")
        pickled = safe_files.read_at(f, start, length)
        safe_files.check_pickle_sharing(pickled, MAX_PICKLE_ITEMS)
        byteorder = "little"  # what torch.load assumes of a file that does not say
        if f"{folder}/byteorder" in members:
            start, length = members[f"{folder}/byteorder"]
            byteorder = safe_files.read_at(f, start, min(length, 7)).decode("latin1")
            if byteorder not in ("little", "big"):
                raise safe_files.ArchiveError("its byteorder member says neither 'little' nor 'big'")
        storages = {}

        def persistent_load(saved_id):
            """The storage a tensor in data.pkl names: its member's bytes."""
            well_formed = (type(saved_id) is tuple and len(saved_id) == 5
                           and type(saved_id[0]) is str and saved_id[0] == "storage")
            _, storage_type, key, _, count = saved_id if well_formed else (None,) * 5
            dtype = (torch.uint8 if storage_type is torch.UntypedStorage
                     else getattr(storage_type, "dtype", None))
            if not (well_formed and isinstance(dtype, torch.dtype) and type(key) is str
                    and type(count) is int and 0 <= count < 1 << 62):
                raise safe_files.ArchiveError(f"data.pkl names a storage by "
                                  f"{messages.describe(saved_id)}")
            if key not in storages:
                name = f"data/{key[:40]}"
                if f"{folder}/data/{key}" not in members:
                    raise safe_files.ArchiveError(f"data.pkl names a member {name} the archive lacks")
                start, length = members[f"{folder}/data/{key}"]
                needed = count * dtype.itemsize
                if length != needed:
                    raise safe_files.ArchiveError(f"its member {name} holds {length:,} bytes, but the "
                                      f"tensor stored there needs {needed:,}")
                data = bytearray(length)
                f.seek(start)
                if f.readinto(data) != length:
                    raise safe_files.ArchiveError(f"its member {name} is cut short")
                storage = (torch.frombuffer(data, dtype=torch.uint8).untyped_storage()
                           if length else torch.UntypedStorage(0))
                if byteorder != sys.byteorder:
                    storage.byteswap(dtype)
                storages[key] = torch.storage.TypedStorage(
                    wrap_storage=storage, dtype=dtype, _internal=True)
            return storages[key]

        # What torch.load does with data.pkl, given these storages.
        unpickler = torch._weights_only_unpickler.Unpickler(
            io.BytesIO(pickled), encoding="utf-8")
        unpickler.persistent_load = persistent_load
        try:
            return unpickler.load()
        finally:
            torch._utils._validate_loaded_sparse_tensors()  # and forgets them


#### Ctrl-C and the training step
# Not in the book: Ctrl-C during SGD keeps what was learnt up to the last
# whole step.  update_mini_batch makes each step's changes through
# _whole_steps.apply, and SGD holds the guard in place for all its steps
# (with_whole_steps), so that an interrupted run never leaves a network
# that is half the old one and half the new.
class _WholeSteps:
    """Makes each step of ``update_mini_batch`` all or nothing for Ctrl-C.

    A step changes the parameters in place, tensor by tensor (weight decay,
    then ``param -= eta*grad``); a KeyboardInterrupt between two of those
    would leave a network that is neither the old one nor the new.  So,
    in the main thread, ``installed()`` puts in a SIGINT handler that
    passes each Ctrl-C straight on to the handler it replaced, except
    while ``apply`` runs a step's changes: then the Ctrl-C waits until they
    are all made.  SGD installs it once for all its steps, which then pay
    about 0.1 us each (a shallow-net step takes some 140 us on our 2-core
    machine); ``update_mini_batch`` called on its own installs it for its
    one step, which costs about 9.5 us.  In another thread, which Python
    never interrupts, or where SIGINT is not handled by Python code,
    nothing is installed.
    """

    def __init__(self) -> None:
        self.replaced = None   # the handler ours stands in front of, while installed
        self.applying = False
        self.held = None       # a Ctrl-C that came while applying: (signum, frame)

    def _handler(self, signum, frame) -> None:
        if self.applying:
            self.held = (signum, frame)
        else:
            (self.replaced or signal.default_int_handler)(signum, frame)

    @contextlib.contextmanager
    def installed(self):
        """Our handler, in place inside the with block (or for the call of a
        function it decorates), unless it is already or cannot be."""
        replaced = None
        if self.replaced is None and threading.current_thread() is threading.main_thread():
            replaced = signal.getsignal(signal.SIGINT)
            if not callable(replaced):  # SIG_IGN, SIG_DFL or not set from Python
                replaced = None
        if replaced is None:
            yield
            return
        self.replaced = replaced  # first: ours may be called at once
        try:
            signal.signal(signal.SIGINT, self._handler)
            yield
        finally:
            # Put back what was there (however the block ended, even by a
            # Ctrl-C the moment ours went in); a Ctrl-C that comes meanwhile
            # is held, then passed on.
            self.applying = True
            try:
                if signal.getsignal(signal.SIGINT) == self._handler:
                    signal.signal(signal.SIGINT, replaced)
            finally:
                self.applying, self.replaced = False, None
                held, self.held = self.held, None
            if held is not None:
                replaced(*held)

    def apply(self, changes: Callable[[], None]) -> None:
        """Call ``changes()`` with Ctrl-C held back until it returns."""
        if self.replaced is None:
            with self.installed():
                if self.replaced is not None:
                    return self.apply(changes)
                return changes()  # nothing can interrupt it here
        self.applying = True
        try:
            changes()
        finally:
            self.applying = False
            held, self.held = self.held, None
        if held is not None:
            self.replaced(*held)


_whole_steps = _WholeSteps()


#### Speed: capturing the training step as a CUDA graph
# Not in the book, and only on a GPU: SGD runs its steps through
# CUDAGraphSteps, which records one step of update_mini_batch as a CUDA
# graph and replays it, because a mini-batch of 10 otherwise leaves the GPU
# waiting on Python.  The steps computed are the same; on a CPU, or with
# Network(..., capture=False), SGD's plain loop runs instead.
class CUDAGraphSteps:
    """``update_mini_batch`` on mini-batch j = 0, 1, 2, ... of ``(x, y)``,
    the index j read from a counter on the device.

    A mini-batch of 10 leaves a GPU idle while Python launches the step's
    small kernels one by one.  So on a GPU, after ``warmup_steps`` eager
    steps on a side stream, one step is recorded as a CUDA graph and
    replayed for all later ones (8.5-11x the eager steps per second on an
    H200).  A graph replays the same memory, so the step reads its
    mini-batch at the counter and advances it; index 0 (a new epoch)
    resets it.  If the capture fails, training goes on eagerly, with a
    warning.  On a CPU every step is eager, as in SGD's plain loop.
    """

    warmup_steps = 3

    def __init__(self, net: Network, x: torch.Tensor, y: torch.Tensor, eta: float,
                 lmbda: float, num_training_batches: int) -> None:
        self.net, self.x, self.y = net, x, y
        self.hyperparameters = (eta, lmbda, num_training_batches)
        self.counter = torch.zeros((), dtype=torch.int64, device=x.device)
        self.rows = torch.arange(net.mini_batch_size, dtype=torch.int64, device=x.device)
        self.use_graph, self.graph, self.steps = x.device.type == "cuda", None, 0
        # Warm-up and capture run on one side stream, the same for every SGD
        # call on this network: autograd keeps the nodes that accumulate into
        # the weights from step to step, and warns if a step reaches them
        # from another stream.
        if self.use_graph and net._side_stream is None:
            net._side_stream = torch.cuda.Stream()

    def counter_step(self) -> None:
        """One step on the mini-batch the counter points at."""
        rows = self.counter * self.net.mini_batch_size + self.rows
        self.net.update_mini_batch(self.x.index_select(0, rows),
                                   self.y.index_select(0, rows), *self.hyperparameters)
        self.counter += 1

    def __call__(self, minibatch_index: int) -> None:
        if minibatch_index == 0:
            self.counter.zero_()
        if self.use_graph and self.graph is None and self.steps >= self.warmup_steps:
            self.capture()
        if self.graph is not None:
            self.graph.replay()
        elif self.use_graph:  # CUDA asks for warm-up work on a side stream
            side = self.net._side_stream
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self.counter_step()
            torch.cuda.current_stream().wait_stream(side)
        else:
            self.counter_step()
        self.steps += 1

    def capture(self) -> None:
        seeded_dropout = self.net.generator is not None and any(
            getattr(layer, "p_dropout", 0.0) > 0.0 for layer in self.net.layers)
        missing = missing_capture_method(seeded_dropout)
        if missing is not None:
            warnings.warn(f"network3: this PyTorch ({torch.__version__}) has no {missing}, "
                          f"which capturing the training step as a CUDA graph needs; "
                          f"training eagerly instead, about ten times slower a step "
                          f"(8.5-11x on an H200)", RuntimeWarning, stacklevel=3)
            self.use_graph = False
            return
        graph = torch.cuda.CUDAGraph()
        try:
            if seeded_dropout:
                # the graph must know to advance this generator on each replay
                graph.register_generator_state(self.net.generator)
            with torch.cuda.graph(graph, stream=self.net._side_stream):
                self.counter_step()
        except Exception as e:  # any failure: fall back to eager steps
            warnings.warn(f"network3: could not capture the training step as a "
                          f"CUDA graph ({type(e).__name__}: {e}); training eagerly",
                          RuntimeWarning, stacklevel=3)
            self.use_graph = False
            torch.cuda.synchronize()
            return
        self.graph = graph


def missing_capture_method(seeded_dropout: bool) -> str | None:
    """The PyTorch method CUDAGraphSteps needs and this PyTorch lacks, if
    any: the graph API has changed across releases (a seeded dropout net
    needs ``register_generator_state``, newer than the rest)."""
    needed = [(torch.cuda, "torch.cuda", "graph"),
              (torch.cuda.CUDAGraph, "torch.cuda.CUDAGraph", "replay")]
    if seeded_dropout:
        needed.append((torch.cuda.CUDAGraph, "torch.cuda.CUDAGraph",
                       "register_generator_state"))
    for owner, owner_name, name in needed:
        if not hasattr(owner, name):
            return f"{owner_name}.{name}"
    return None


#### Input checks: each raises ValueError with a message saying what is wrong
# The program above checks what it is given where it first arrives (a
# layer's shapes, a network's layers, SGD's arguments and data, predict's
# images, a network file's contents), so that a mistake is named in one
# line at once instead of surfacing later as a shape error deep in PyTorch
# or as weights silently turned to NaN.  The checks live here, together,
# so that the book's methods read as the book's.
def _probability(p) -> float:
    p = float(p)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"p_dropout must be in [0, 1), got {p}")
    return p


def _check_activation(fn):
    """An activation function must be something to call, such as ReLU."""
    if callable(fn):
        return fn
    known = {name.lower(): name for name in ACTIVATIONS}
    hint = (f"network3.{known[fn.lower()]}" if isinstance(fn, str) and fn.lower() in known
            else f"one of network3's {', '.join(ACTIVATIONS)}")
    raise ValueError(f"activation_fn must be a function such as {hint}, not {fn!r}")


def _int_tuple(value, length: int, name: str) -> tuple[int, ...]:
    try:
        result = tuple(int(v) for v in value)
        fits = len(result) == length and all(r >= 1 and r == v for r, v in zip(result, value))
    except (TypeError, ValueError):
        fits = False
    if not fits:
        raise ValueError(f"{name} must be a tuple of {length} positive integers, "
                         f"got {messages.describe(value)}")
    return result


def _check_conv_shapes(filter_shape, image_shape, poolsize) -> tuple[int, int, int]:
    """The (filters, height, width) a ConvPoolLayer outputs per image."""
    filters, maps, fh, fw = filter_shape
    _, image_maps, h, w = image_shape
    ph, pw = poolsize
    if maps != image_maps:
        raise ValueError(
            f"ConvPoolLayer: filter_shape {filter_shape} expects {maps} input "
            f"feature maps but image_shape {image_shape} has {image_maps}")
    if fh > h or fw > w:
        raise ValueError(f"ConvPoolLayer: {fh}x{fw} filters do not fit {h}x{w} images")
    if (h - fh + 1) < ph or (w - fw + 1) < pw:
        raise ValueError(
            f"ConvPoolLayer: the {h - fh + 1}x{w - fw + 1} feature maps are "
            f"smaller than the {ph}x{pw} pooling blocks")
    return (filters, (h - fh + 1) // ph, (w - fw + 1) // pw)


# What a network file holds: these entries and no others ("seed" is absent
# from files written before the seed was saved), and for each layer type
# these keys, each of the JSON type that save() writes.
_FILE_ENTRIES = ("format", "version", "mini_batch_size", "seed", "architecture", "params")
_LAYER_KEYS = {"ConvPoolLayer": ("type", "filter_shape", "image_shape", "poolsize",
                                 "activation_fn"),
               "FullyConnectedLayer": ("type", "n_in", "n_out", "p_dropout", "activation_fn"),
               "SoftmaxLayer": ("type", "n_in", "n_out", "p_dropout")}


def _check_saved_network(blob) -> tuple[int, int | None, int, list[dict], list]:
    """The version, seed, mini_batch_size, layer configurations and weight
    tensors of what a network file holds, each checked to be of the type
    ``Network.save`` writes; an unknown entry or key is refused too."""
    if type(blob) is not dict or blob.get("format") != _FORMAT:
        raise ValueError("it does not say it holds a network3 network")
    for key in blob:
        if type(key) is not str or key not in _FILE_ENTRIES:  # (no tuple is hashed)
            raise ValueError(f"it holds an entry {messages.describe(key)} that "
                             f"network3 files do not have")
    missing = [key for key in _FILE_ENTRIES if key not in blob and key != "seed"]
    if missing:
        raise ValueError(f"the entries {', '.join(missing)} are missing")
    version, seed = blob["version"], blob.get("seed")
    mini_batch_size, architecture, params = (
        blob["mini_batch_size"], blob["architecture"], blob["params"])
    if type(version) is not int or version not in _VERSIONS_READ:
        raise ValueError(f"version {messages.describe(version)}, this module reads "
                         f"{' and '.join(map(str, _VERSIONS_READ))}")
    if seed is not None and not (type(seed) is int and -2 ** 63 <= seed < 2 ** 64):
        raise ValueError(f"the seed is {messages.describe(seed)}, not a 64-bit integer")
    if type(mini_batch_size) is not int or mini_batch_size < 1:
        raise ValueError(f"mini_batch_size must be an integer >= 1; got "
                         f"{messages.describe(mini_batch_size)}")
    if type(architecture) is not str:
        raise ValueError(f"the architecture is {messages.describe(architecture)}, "
                         f"not JSON text")
    try:
        configs = json.loads(architecture)
    except (ValueError, RecursionError) as e:
        raise ValueError(f"unreadable architecture "
                         f"({messages.describe_error(e)})") from None
    if type(configs) is not list or not all(type(c) is dict for c in configs):
        raise ValueError("the architecture is not a list of layers")
    for j, config in enumerate(configs):
        _check_layer_config(j, config)
    if type(params) is not list:
        raise ValueError(f"the weights are {messages.describe(params)}, not a list "
                         f"of tensors")
    return version, seed, mini_batch_size, configs, params


def _check_layer_config(j: int, config: dict) -> None:
    """Layer ``j`` of a file's architecture (parsed JSON) must hold exactly
    the keys its type's ``save`` writes, each of the type it writes."""
    kind = config.get("type")
    if type(kind) is not str or kind not in _LAYER_KEYS:
        raise ValueError(f"layer {j}: unknown layer type {messages.describe(kind)}")
    name = f"layer {j} ({kind})"
    unknown = [key for key in config if key not in _LAYER_KEYS[kind]]
    if unknown:
        raise ValueError(f"{name} has the key {messages.describe(unknown[0])}, which "
                         f"a {kind} does not have")
    missing = [key for key in _LAYER_KEYS[kind] if key not in config]
    if missing:
        raise ValueError(f"{name} lacks {', '.join(missing)}")
    for key in ("n_in", "n_out"):
        value = config.get(key, 1)
        if type(value) is not int or value < 1:
            raise ValueError(f"{name}: {key} must be an integer >= 1; got "
                             f"{messages.describe(value)}")
    for key, length in (("filter_shape", 4), ("image_shape", 4), ("poolsize", 2)):
        value = config.get(key, [1] * length)
        if not (type(value) is list and len(value) == length
                and all(type(v) is int and v >= 1 for v in value)):
            raise ValueError(f"{name}: {key} must be a list of {length} positive "
                             f"integers; got {messages.describe(value)}")
    p = config.get("p_dropout", 0.0)
    if type(p) not in (int, float) or not 0 <= p < 1:
        raise ValueError(f"{name}: p_dropout must be a number in [0, 1); got "
                         f"{messages.describe(p)}")
    activation = config.get("activation_fn", "sigmoid")
    if type(activation) is not str or activation not in ACTIVATIONS:
        raise ValueError(f"{name}: unknown activation function "
                         f"{messages.describe(activation)}; a file may name "
                         f"{', '.join(ACTIVATIONS)}")


def _input_size(layer) -> int | None:
    """How many values one example feeds into ``layer`` (None if unknown)."""
    if isinstance(layer, ConvPoolLayer):
        return int(np.prod(layer.image_shape[1:]))
    return getattr(layer, "n_in", None)


def _check_layers(layers: list, mini_batch_size: int) -> None:
    """Each layer's input must fit what precedes it."""
    if not layers:
        raise ValueError("a Network needs at least one layer")
    for j, layer in enumerate(layers):
        name = f"layer {j} ({type(layer).__name__})"
        if not (hasattr(layer, "set_inpt") and hasattr(layer, "params")):
            raise ValueError(f"{name} is not a layer: it has no set_inpt or params")
        if isinstance(layer, ConvPoolLayer) and layer.image_shape[0] != mini_batch_size:
            raise ValueError(
                f"{name}: image_shape {layer.image_shape} is for mini-batches of "
                f"{layer.image_shape[0]}, but the network's mini_batch_size is "
                f"{mini_batch_size}")
        if j == 0:
            continue
        prev = layers[j - 1]
        if getattr(prev, "output_shape", None) is None or _input_size(layer) is None:
            continue  # a layer of the user's own making: trust it
        out_shape = tuple(prev.output_shape)
        if isinstance(layer, ConvPoolLayer) and len(out_shape) == 3:
            if out_shape != layer.image_shape[1:]:
                raise ValueError(
                    f"{name}: image_shape {layer.image_shape} expects images of "
                    f"shape {layer.image_shape[1:]}, but layer {j - 1} outputs "
                    f"{out_shape} per image")
        elif int(np.prod(out_shape)) != _input_size(layer):
            raise ValueError(
                f"{name} takes {_input_size(layer)} inputs, but layer {j - 1} "
                f"({type(prev).__name__}) outputs {int(np.prod(out_shape))} "
                f"(shape {out_shape}) per example")


def _check_sgd(net: Network, epochs, mini_batch_size, eta, lmbda, early_stopping_n,
               eta_schedule_n) -> tuple[int, float, float, int, int]:
    """SGD's arguments, refused in the words of network.py and network2.py."""
    epochs = _check_count("epochs", epochs, 0)
    mini_batch_size = _check_count("mini_batch_size", mini_batch_size, 1)
    eta = _check_number("eta (the learning rate)", eta)
    lmbda = _check_number("lmbda (the regularization parameter)", lmbda)
    early_stopping_n = _check_count("early_stopping_n", early_stopping_n, 0)
    eta_schedule_n = _check_count("eta_schedule_n", eta_schedule_n, 0)
    if mini_batch_size != net.mini_batch_size:
        raise ValueError(
            f"SGD was given mini_batch_size={mini_batch_size}, but the network "
            f"was built for mini-batches of {net.mini_batch_size}")
    if not hasattr(net.layers[-1], "cost"):
        raise ValueError(
            f"the last layer ({type(net.layers[-1]).__name__}) defines no "
            f"cost; end the network with a SoftmaxLayer")
    return epochs, eta, lmbda, early_stopping_n, eta_schedule_n


def _check_count(name, value, minimum):
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got "
                         f"{messages.describe(value)}")
    return int(value)


def _check_number(name, value):
    if (not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_))
            or not np.isfinite(value)):
        raise ValueError(f"{name} must be a finite number; got {messages.describe(value)}")
    return float(value)


def _is_int(value):
    """True for Python and numpy integers, not for bools."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _on_device(net: Network, data, name: str, finite: bool = False):
    """(x, y) as float32 and int64 tensors on the device, checked to hold
    at least one mini-batch of images that fit the first layer, and with
    ``finite`` (SGD's data) to hold no NaN or infinity, which would make
    every weight NaN without a word."""
    try:
        x, y = data
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an (x, y) pair, such as one of the "
                         f"three load_data_shared() returns") from None
    x = torch.as_tensor(x, dtype=torch.float32).to(device)
    y = torch.as_tensor(y).to(device)
    n_in = _input_size(net.layers[0])
    if x.ndim < 2 or (n_in is not None and int(np.prod(x.shape[1:])) != n_in):
        raise ValueError(f"{name}: images of shape {tuple(x.shape)} do not fit "
                         f"the first layer, which takes {n_in} values per image")
    if y.shape != (x.shape[0],) or y.dtype.is_floating_point:
        raise ValueError(f"{name}: labels of shape {tuple(y.shape)} and type "
                         f"{y.dtype} do not match {x.shape[0]} images")
    if x.shape[0] < net.mini_batch_size:
        raise ValueError(f"{name} holds fewer examples than one "
                         f"mini-batch of {net.mini_batch_size}")
    y = y.to(torch.int64)
    n_out = getattr(net.layers[-1], "n_out", None)
    if n_out is not None and y.numel():
        lowest, highest = int(y.min()), int(y.max())
        if lowest < 0 or highest >= n_out:
            raise ValueError(
                f"{name}: labels must be integers 0 to {n_out - 1} (the last layer "
                f"has {n_out} outputs); found {lowest if lowest < 0 else highest}")
    if finite:
        _check_finite(x, name)
    return x, y


def _check_finite(x: torch.Tensor, name: str) -> None:
    """Refuse images ``x`` holding a NaN or an infinity, naming the first
    such image.  Their sum is finite only if every pixel is, and costs one
    pass (MNIST's 50,000 training images: 3.7 ms on one CPU thread, where
    testing each pixel took 165 ms, and an epoch of the shallow net about
    1 s); only a sum that is not finite (a NaN, an infinity, or finite
    pixels too large to add up) is looked into."""
    if bool(torch.isfinite(x.sum())):
        return
    bad = ~torch.isfinite(x).reshape(x.shape[0], -1).all(dim=1)
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        pixels = x[i].reshape(-1)
        value = float(pixels[~torch.isfinite(pixels)][0])
        raise ValueError(f"{name}: image {i} holds {value}; every pixel must be a "
                         f"finite number")


def _images(net: Network, x: torch.Tensor) -> torch.Tensor:
    """``x`` as rows of the first layer's inputs; a single image (as a row,
    a column or 28x28) becomes one row."""
    n_in = _input_size(net.layers[0])
    if n_in is None:
        n_in = int(np.prod(x.shape[1:]))
    if x.numel() == n_in:
        x = x.reshape(1, n_in)
    if x.ndim < 2 or int(np.prod(x.shape[1:])) != n_in:
        raise ValueError(
            f"predict needs images of {n_in} values each (shape (n, {n_in})), "
            f"got an array of shape {tuple(x.shape)}")
    return x
