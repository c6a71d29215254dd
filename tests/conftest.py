"""What several test files share, and the data the suite needs.

Many tests train on the real MNIST.  Before the first test is collected,
the four original IDX files are made present in the data folder the way a
user's first run makes them: through ``mnist_files.fetch``, which downloads
and checks whatever is missing (nothing, when they are already there).
Offline, without them, the suite stops at once with the project's
one-line message naming the four files and the folder, rather than with
a traceback from whichever test reads them first.
"""

import pytest

import mnist_files
import mnist_loader
import safe_files


def pytest_sessionstart(session):
    folder = mnist_files.data_dir()
    try:
        for name in mnist_files.IDX_FILES:
            mnist_files.fetch(name, folder)
    except safe_files.DataFileError as error:
        raise pytest.UsageError(f"the tests need MNIST: {error}") from None


@pytest.fixture
def no_data(monkeypatch):
    """Loading MNIST fails the test: bad arguments must stop a script first."""
    def refuse(*args, **kwargs):
        raise AssertionError("the data was loaded before the arguments were checked")
    monkeypatch.setattr(mnist_loader, "load_data", refuse)
    monkeypatch.setattr(mnist_loader, "load_data_wrapper", refuse)


def run_with_ctrl_c_at(step, filename, k):
    """Run ``step()``, sending a real SIGINT (what Ctrl-C sends) at the k-th
    point where Python acts on one in the code of ``filename`` (k = 0: at
    none), and return how many such points the run passed and whether it
    ended in a KeyboardInterrupt.

    CPython runs a pending signal's handler only at certain points, which
    these are: as a function of that code, or one it calls, starts; where
    a loop of that code jumps back; and after each call that code makes
    returns.  (Not between any two instructions: the handler cannot run,
    for instance, between the two stores of ``a.x, a.y = x, y``.)  The
    SIGINT is sent by ``signal.raise_signal``, so its handler runs there
    and then, as it would at such a point."""
    import dis
    import gc
    import signal
    import sys

    passed = 0
    jump_back = dis.opmap["JUMP_BACKWARD"]
    calls_made = {dis.opmap[name] for name in ("CALL", "CALL_FUNCTION_EX", "CALL_KW")
                  if name in dis.opmap}
    last = {}  # each traced frame's instruction before this one

    def point():
        nonlocal passed
        passed += 1
        if passed == k:
            signal.raise_signal(signal.SIGINT)

    def opcodes(frame, event, arg):
        if event == "opcode":
            op = frame.f_code.co_code[frame.f_lasti]
            if last.get(frame) in calls_made or op == jump_back:
                point()
            last[frame] = op
        elif event == "return" and last.get(frame) in calls_made:
            point()  # a call just before the return came back
        return opcodes

    def starts(frame, event, arg):
        ours = frame.f_code.co_filename == filename
        if ours or (frame.f_back is not None and frame.f_back.f_code.co_filename == filename):
            point()  # the function starts
        if ours:
            frame.f_trace_opcodes = True
            return opcodes
        return None

    # No garbage collection while traced: a finalizer left by an earlier
    # test (a socket's, a process's) would run inside the step, count as a
    # point, and swallow the KeyboardInterrupt raised in it.
    tracer, collecting = sys.gettrace(), gc.isenabled()
    gc.disable()
    sys.settrace(starts)
    try:
        step()
    except KeyboardInterrupt:
        return passed, True
    finally:
        sys.settrace(tracer)
        if collecting:
            gc.enable()
    return passed, False


@pytest.fixture
def python_ctrl_c():
    """Ctrl-C handled by Python's own handler (KeyboardInterrupt) during the
    test, as in a terminal, whatever the suite was started with: a run in
    the background of a shell, or under nohup, starts with SIGINT ignored."""
    import signal
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.fixture
def ctrl_c_at(python_ctrl_c):
    """``run_with_ctrl_c_at``, for tests of what an interrupted step leaves."""
    return run_with_ctrl_c_at
