"""Tests of draw.py: its server answers a drawing with classify.py's input
and answers, refuses every bad request with a JSON message and a 4xx
status, and stops at start in one line; and in a real browser (headless
Chromium driven by Selenium) strokes drawn with the mouse or a finger are read as the
digits they are, with the 28x28 input shown.  The browser test also
prints how long an answer takes to appear after a stroke ends, for a
network2 and a network3 network, and the server's memory.

The networks are small ones trained here on the first 10,000 to 20,000
MNIST images; the default network is such a one, kept where
classify.py keeps it, in a data folder of the tests' own
($NNDL_DATA_DIR)."""

import base64
import http.client
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import classify
import mnist_loader
import network2

DRAW = Path(__file__).resolve().parent.parent / "src" / "draw.py"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


#### Networks and servers
@pytest.fixture(scope="module")
def mnist():
    return mnist_loader.load_data_wrapper()


@pytest.fixture(scope="module")
def nets(mnist, tmp_path_factory):
    """Three small networks: the default one (network2 [784, 30, 10]) kept
    in a data folder of its own, a network2 [784, 100, 10] file and a
    network3 convolutional one; as {"data", "n2", "conv"}: paths."""
    import network3
    from network3 import ConvPoolLayer, FullyConnectedLayer, Network, ReLU, SoftmaxLayer
    folder = tmp_path_factory.mktemp("draw-nets")
    training, _, test = mnist
    default = network2.Network(classify.DEFAULT_RECIPE["sizes"], seed=1)
    default.SGD(training[:20000], 3, 10, 0.5, lmbda=5.0)
    data = folder / "data"
    data.mkdir()
    classify.keep_default_net(default, default.accuracy(test) / len(test),
                              data / classify.default_net_path().name)
    wide = network2.Network([784, 100, 10], seed=2)
    wide.SGD(training[:20000], 3, 10, 0.5, lmbda=5.0)
    wide.save(folder / "n2.json")
    (train_x, train_y), validation, _ = network3.load_data_shared()
    conv = Network([ConvPoolLayer(image_shape=(10, 1, 28, 28), filter_shape=(20, 1, 5, 5),
                                  poolsize=(2, 2), activation_fn=ReLU),
                    FullyConnectedLayer(n_in=20 * 12 * 12, n_out=100, activation_fn=ReLU),
                    SoftmaxLayer(n_in=100, n_out=10)], 10, seed=3)
    conv.SGD((train_x[:10000], train_y[:10000]), 2, 10, 0.03,
             (validation[0][:1000], validation[1][:1000]), None)
    conv.save(folder / "conv.pt")
    return {"data": data, "n2": folder / "n2.json", "conv": folder / "conv.pt"}


class Server:
    """draw.py running with ``args``, the default network kept in ``data``."""

    def __init__(self, args, data, log):
        env = {**os.environ, "NNDL_DATA_DIR": str(data)}
        self.log = open(log, "w+")
        self.process = subprocess.Popen([sys.executable, str(DRAW), *map(str, args)],
                                        stdout=subprocess.PIPE, stderr=self.log,
                                        text=True, env=env)
        timer = threading.Timer(120, self.process.kill)   # never wait forever
        timer.start()
        self.url = self.process.stdout.readline().strip()
        timer.cancel()
        self.log.seek(0)
        assert self.url.startswith("http://127.0.0.1:"), self.log.read()
        self.port = int(self.url.rsplit(":", 1)[1].strip("/"))

    def rss_mib(self) -> tuple[float, float]:
        """The server's resident memory now and at its peak, MiB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        kib = {line.split(":")[0]: int(line.split()[1]) for line in status
               if line.startswith(("VmRSS", "VmHWM"))}
        return kib["VmRSS"] / 1024, kib["VmHWM"] / 1024

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process.stdout.close()
        self.log.close()


@pytest.fixture(scope="module")
def server(nets, tmp_path_factory):
    """draw.py with the default network, a network2 file and a network3 file."""
    s = Server(["--net", nets["n2"], "--net", nets["conv"]], nets["data"],
               tmp_path_factory.mktemp("draw-log") / "stderr.txt")
    yield s
    s.stop()


def exchange(server, raw: bytes, shut=False):
    """Send the bytes ``raw`` to the server; its answer as (status,
    headers, body decoded from JSON when it is JSON).  "Host: x" in ``raw``
    stands for the server's own address."""
    raw = raw.replace(b"Host: x\r\n", f"Host: 127.0.0.1:{server.port}\r\n".encode())
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
        s.sendall(raw)
        if shut:
            s.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(s)
        response.begin()
        body = response.read()
    if response.getheader("Content-Type") == "application/json":
        body = json.loads(body)
    return response.status, response, body


def post(server, body: bytes, path="/classify", **headers):
    headers = {"Host": f"127.0.0.1:{server.port}", "Content-Type": "image/png",
               "Content-Length": str(len(body)), **headers}
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if v is not None)
    return exchange(server, f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + body)


def png_of(array) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(out, format="PNG")
    return out.getvalue()


def large_digit(x, scale=10) -> bytes:
    """A 28x28 MNIST digit as a dark-on-white PNG, each pixel scale x scale."""
    image = np.round(255 * (1 - x.reshape(28, 28))).astype(np.uint8)
    return png_of(np.kron(image, np.ones((scale, scale), dtype=np.uint8)))


#### The server
def test_a_drawing_gets_classifys_input_and_every_networks_answer(server, nets, mnist,
                                                                  tmp_path):
    x, label = mnist[2][0]
    png = large_digit(x)
    status, _, answer = post(server, png)
    assert status == 200
    (tmp_path / "digit.png").write_bytes(png)
    digit = classify.mnist_image(tmp_path / "digit.png")
    np.testing.assert_array_equal(np.array(answer["input"]).reshape(28, 28),
                                  np.round(digit * 255))
    loaded = [classify.load_net(nets["n2"]), classify.load_net(nets["conv"]),
              network2.load(nets["data"] / classify.default_net_path().name)]
    names = [str(nets["n2"]), str(nets["conv"]), "default network"]
    assert [net["name"] for net in answer["nets"]] == names
    for net, shown in zip(loaded, answer["nets"]):
        j, confidence, outputs = classify.classify_with_outputs(net, digit)
        assert shown["digit"] == j and abs(shown["confidence"] - confidence) < 1e-4
        np.testing.assert_allclose(shown["outputs"], outputs, atol=1e-4)
    assert [net["digit"] for net in answer["nets"]].count(label) >= 2


def test_the_page_is_served_and_names_each_network(server, nets):
    status, response, body = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200 and response.getheader("Content-Type").startswith("text/html")
    page = body.decode()
    assert "<canvas" in page and "__NETWORKS__" not in page
    assert json.dumps(str(nets["conv"])) in page and '"default network"' in page
    assert "network3 ConvPoolLayer + FullyConnectedLayer + SoftmaxLayer" in page


BLANK = png_of(np.full((100, 100), 255))
HUGE = png_of(np.full((10, 2500), 255))
GIF = io.BytesIO()
Image.new("L", (50, 50), 255).save(GIF, format="GIF")
STROKE = np.full((280, 280), 255)
STROKE[40:240, 130:150] = 0


@pytest.mark.parametrize("request_, status, message", [
    (b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n\r\n",
     411, "no Content-Length"),
    (b"POST /classify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"5\r\nhello\r\n0\r\n\r\n", 411, "not in chunks"),
    (b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n",
     413, "50,000,000 bytes, more than the 1,048,576"),
    (b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
     400, "'ten' is not a number"),
    (b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n\x89PNG",
     400, "ended after 4 of the 1,000 bytes"),
    (b"GET / HTTP/1.1 and more\r\n\r\n", 400, "Bad request version"),
    (b"GET /classify HTTP/1.1\r\nHost: x\r\n\r\n", 405, "send the drawing with POST"),
    (b"PUT /classify HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405,
     "PUT is not used here; /classify takes POST"),
    (b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", 405, "DELETE is not used here; / takes GET"),
    (b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501, "Unsupported method ('BREW')"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405, "read with GET"),
    (b"GET /draw.py HTTP/1.1\r\nHost: x\r\n\r\n", 404, "no such page"),
    (b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404, "no such page"),
    (b"POST /classify/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 404, "no such page"),
], ids=["no length", "chunked", "too big", "length not a number", "body cut short",
        "malformed request line", "GET classify", "PUT", "DELETE", "unknown method",
        "POST page", "wrong path", "path outside", "POST wrong path"])
def test_bad_requests_get_a_json_message_and_a_4xx_status(server, request_, status, message):
    got, response, body = exchange(server, request_, shut=b"1000" in request_)
    assert got == status and message in body["error"], body
    assert "\n" not in body["error"] and "Traceback" not in body["error"]
    if status == 405:
        assert response.getheader("Allow") in ("GET", "POST")


@pytest.mark.parametrize("host", [b"Host: evil.example\r\n", b"Host: 127.0.0.1\r\n", b""],
                         ids=["another site", "no port", "no Host"])
@pytest.mark.parametrize("request_", [b"GET / HTTP/1.1\r\n",
                                      b"POST /classify HTTP/1.1\r\nContent-Length: 0\r\n"],
                         ids=["page", "classify"])
def test_requests_addressed_to_another_host_are_refused(server, host, request_):
    """A page elsewhere whose name was pointed at 127.0.0.1 (DNS rebinding)
    sends its own name in Host: it gets neither the page nor an answer."""
    got, _, body = exchange(server, request_ + host + b"\r\n")
    assert got == 421 and f"http://127.0.0.1:{server.port}/" in body["error"], body
    status, _, _ = exchange(server, b"GET / HTTP/1.1\r\nHost: localhost:%d\r\n\r\n"
                            % server.port)
    assert status == 200


@pytest.mark.parametrize("body, status, message", [
    (b"hello, this is text", 415, "the drawing is not a PNG image"),
    (GIF.getvalue(), 415, "the drawing is not a PNG image"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", 400, "a PNG image cut short: it has no header"),
    (png_of(STROKE)[:60], 422, "the drawing: not an image that can be read"),
    (png_of(STROKE)[:33] + b"\x00" * 200, 422, "the drawing: not an image that can be read"),
    (HUGE, 413, "2500x10 pixels, more than the 2000 a side"),
    (BLANK, 422, "the drawing: no ink found"),
], ids=["text", "gif", "signature only", "cut short", "damaged", "too many pixels", "blank"])
def test_bodies_that_are_not_usable_pngs_are_refused(server, body, status, message):
    got, _, answer = post(server, body)
    assert got == status and message in answer["error"], answer
    # and the connection still serves the next request
    assert post(server, png_of(STROKE))[0] == 200


def test_a_body_that_stops_coming_is_refused_after_the_timeout():
    import draw

    class Stalled(io.BytesIO):
        def read(self, n=-1):
            raise TimeoutError("timed out")      # as the socket does after draw.TIMEOUT
    with pytest.raises(draw.RequestError, match="did not arrive within") as refused:
        draw.request_png({"Content-Length": "10"}, Stalled())
    assert refused.value.status == 408 and refused.value.close


#### Starting
def start_fails(args, data, tmp_path):
    done = subprocess.run([sys.executable, str(DRAW), *map(str, args)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "NNDL_DATA_DIR": str(data)})
    assert done.returncode == 2 and done.stdout == "", done
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    return done.stderr


def test_a_bad_network_file_or_a_busy_port_stops_it_in_one_line(nets, tmp_path):
    (tmp_path / "notes.json").write_text('{"sizes": "many"}')
    assert "notes.json: not a network" in start_fails(
        ["--net", tmp_path / "notes.json"], nets["data"], tmp_path)
    assert "gone.pt: no such file" in start_fails(
        ["--net", tmp_path / "gone.pt"], nets["data"], tmp_path)
    assert "--port 70000: not a port number" in start_fails(
        ["--port", 70000], nets["data"], tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert f"port {port} on 127.0.0.1 is in use" in start_fails(
            ["--port", port], nets["data"], tmp_path)


#### In a browser
@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium, driven by Selenium, in a 1280x800 window."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    if missing:
        pytest.fail(f"the browser test needs {' and '.join(missing)}: install Debian's "
                    f"packages chromium and chromium-driver (.ci/run does)", pytrace=False)
    try:
        from selenium import webdriver
    except ImportError:
        pytest.fail("the browser test needs selenium: pip install -r requirements.txt",
                    pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,800",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    yield driver
    driver.quit()


# Strokes of known digits, as points (x, y) from the canvas's centre, in
# CSS pixels of a 320-pixel canvas.
ONE = [[(5, -110), (0, -40), (-5, 30), (-8, 110)]]
ZERO = [[(70 * np.sin(t), -100 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 25)]]
SEVEN = [[(-80, -100), (0, -100), (80, -100), (40, -10), (0, 110)]]
TWO_ONES = [[(-120, -60), (-120, 60)], [(120, -60), (120, 60)]]


class Page:
    """The page in ``driver``: drawing on it, and what it shows."""

    def __init__(self, driver, url):
        from selenium.webdriver.common.by import By
        self.driver, self.events = driver, 0
        driver.get(url)
        self.canvas = driver.find_element(By.ID, "canvas")
        self.clear_button = driver.find_element(By.ID, "clear")

    def draw(self, strokes, pointer="mouse"):
        """Draw each stroke with the mouse (or a finger: ``pointer="touch"``)
        and wait for the page's answer; return the milliseconds from the
        last stroke's end to it."""
        from selenium.webdriver.common.actions.action_builder import ActionBuilder
        from selenium.webdriver.common.actions.pointer_input import PointerInput
        from selenium.webdriver.support.ui import WebDriverWait
        for stroke in strokes:
            points = [(round(x), round(y)) for x, y in stroke]
            actions = ActionBuilder(self.driver, mouse=PointerInput(pointer, pointer),
                                    duration=10)
            actions.pointer_action.move_to(self.canvas, *points[0]).pointer_down()
            for x, y in points[1:]:
                actions.pointer_action.move_to(self.canvas, x, y)
            actions.pointer_action.pointer_up()
            actions.perform()
            self.events += 1
            WebDriverWait(self.driver, 30).until(
                lambda d: self.results("answered") == str(self.events))
        return float(self.results("latency"))

    def clear(self):
        self.clear_button.click()
        self.events += 1

    def results(self, name):
        return self.driver.execute_script(
            f"return document.getElementById('results').dataset.{name};")

    def shown(self):
        """The digits the cards show, the status line and its class, the
        preview's gray levels (28x28) and the drawing as a PNG."""
        return self.driver.execute_script("""
            const p = document.getElementById('preview').getContext('2d');
            const s = document.getElementById('status');
            return [[...document.querySelectorAll('.net .answer')].map(e => e.textContent),
                    s.textContent, s.className,
                    Array.from(p.getImageData(0, 0, 28, 28).data.filter((v, i) => i % 4 == 0)),
                    document.getElementById('canvas').toDataURL('image/png')];""")


@pytest.mark.slow  # drives a browser
def test_digits_drawn_with_mouse_or_finger_are_read_and_the_input_shown(server, nets, browser,
                                                                  tmp_path):
    page = Page(browser, server.url)
    loaded = [classify.load_net(nets["n2"]), classify.load_net(nets["conv"]),
              network2.load(nets["data"] / classify.default_net_path().name)]
    for label, strokes, pointer in ((1, ONE, "mouse"), (0, ZERO, "mouse"),
                                    (7, SEVEN, "mouse"), (0, ZERO, "touch")):
        page.clear()
        page.draw(strokes, pointer)
        answers, status, kind, preview, drawing = page.shown()
        assert kind == "" and status.startswith("Read in"), status
        # The page shows what classify.py makes of the drawing, and each answer.
        png = tmp_path / f"{label}-{pointer}.png"
        png.write_bytes(base64.b64decode(drawing.split(",", 1)[1]))
        digit = classify.mnist_image(png)
        np.testing.assert_allclose(np.reshape(preview, (28, 28)),
                                   255 - np.round(255 * digit), atol=1)
        assert answers == [str(classify.classify(net, digit)[0]) for net in loaded]
        assert answers.count(str(label)) >= 2, (label, answers)
        ink = 255 - np.reshape(preview, (28, 28)).astype(float)
        rows, cols = np.nonzero(ink > 64)
        assert max(rows.max() - rows.min(), cols.max() - cols.min()) in (18, 19)
    # Two digits at once: the page says so, the drawing stays.
    page.clear()
    page.draw(TWO_ONES)
    answers, status, kind, preview, _ = page.shown()
    assert kind == "error" and "found 2 digits side by side" in status
    assert answers == ["\u2013"] * 3 and min(preview) == 255


@pytest.mark.slow  # drives a browser
def test_time_from_a_strokes_end_to_the_answer_and_the_servers_memory(
        nets, browser, tmp_path_factory, capsys):
    """Median of 20 strokes, with the default network2 network alone and
    with a network3 one beside it; printed, not asserted."""
    lines = []
    for what, args in (("network2 [784, 30, 10] (the default net)", []),
                       ("network3 conv net + the default net", ["--net", nets["conv"]])):
        server = Server(args, nets["data"], tmp_path_factory.mktemp("draw-log") / "log")
        try:
            page = Page(browser, server.url)
            rss_start = server.rss_mib()[0]
            latencies = []
            for _ in range(20):
                page.clear()
                latencies.append(page.draw(ONE))
            rss, peak = server.rss_mib()
        finally:
            server.stop()
        assert len(latencies) == 20
        lines.append(f"draw.py, {what}: stroke's end to answer on the page: median "
                     f"{statistics.median(latencies):.1f} ms (min {min(latencies):.1f}, "
                     f"max {max(latencies):.1f}; 20 strokes); server RSS {rss_start:.0f} MiB "
                     f"loaded, {rss:.0f} MiB after, peak {peak:.0f} MiB")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
