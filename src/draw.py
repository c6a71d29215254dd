"""draw
~~~~

Draw a digit in the browser and watch the book's networks read it::

    python src/draw.py                              # the default network
    python src/draw.py --net my_net.json --net conv.pt

The script serves a page on this computer only (127.0.0.1) and prints its
address, ``http://127.0.0.1:PORT/``, as the first line on stdout once the
networks are loaded (messages about loading them go to stderr).  The
port is a free one unless ``--port`` names it.

On the page: a square to draw on with the mouse, a pen or a finger, and a
Clear button.  When a stroke ends the drawing is sent to the script as a
PNG, made into an MNIST digit by classify.py's ``mnist_image`` (the same
code that reads photographs: cropped to the ink, fitted to 20x20 pixels,
centred by mass in 28x28), and fed to every network.  The page then
shows that 28x28 image, the input the networks see, and for each network
its digit, its confidence and its ten output activations as bars.

The networks are classify.py's default one (network2 [784, 30, 10],
trained on the first run of either script and kept in the data folder)
and every file given with ``--net``: saved by network.py, network2.py or
network3.py, checked and loaded by classify.py's ``load_net``.  A bad
file, or a port that is taken, stops the script with one line (exit
status 2) before anything is served.

The server is Python's own ``http.server``: one page, and one endpoint,
``POST /classify``, taking a PNG of at most ``MAX_BODY`` bytes and
``MAX_SIDE`` pixels a side and answering in JSON.  A request it cannot
use gets a JSON ``{"error": "..."}`` with a 4xx status, and the page
shows the message; any other path is 404.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import json
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import numpy as np

import classify

HOST = "127.0.0.1"            # this computer only
MAX_BODY = 1 << 20            # bytes: the page's PNGs are about 5-20 kB
MAX_SIDE = 2000               # pixels: the page's canvas is 280 a side
TIMEOUT = 10                  # seconds a request may take to arrive
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


#### The networks the page shows
def load_networks(paths) -> list[dict]:
    """Every network of ``paths`` (classify.load_net), then classify.py's
    default one, each as {"name", "about", "net"}.  Raises ClassifyError
    for a file that is not a network for MNIST's digits."""
    networks = [{"name": str(path), "about": about(net), "net": net}
                for path, net in ((path, classify.load_net(path)) for path in paths)]
    net, accuracy = classify.default_network()
    networks.append({"name": "default network",
                     "about": f"{about(net)}, {classify.DEFAULT_RECIPE['epochs']} epochs, "
                              f"{accuracy:.2%} on MNIST's test images",
                     "net": net})
    return networks


def about(net) -> str:
    """A few words on what kind of network ``net`` is."""
    if hasattr(net, "sizes"):                   # network.py or network2.py
        return f"network2 {net.sizes}, sigmoid outputs"
    layers = [type(layer).__name__ for layer in net.layers]
    outputs = ", softmax outputs" if layers[-1] == "SoftmaxLayer" else ""
    return f"network3 {' + '.join(layers)}{outputs}"


#### Reading a drawing
def read_drawing(png: bytes, networks: list[dict], lock: threading.Lock) -> dict:
    """What the page shows for the drawing ``png``: the 28x28 input (784
    gray levels, 255 full ink) and each network's digit, confidence and
    ten output activations.  Raises ClassifyError when the image cannot be
    used (it shows no ink, say)."""
    digit = classify.mnist_image(io.BytesIO(png), name="the drawing")
    answers = []
    with lock:                  # a network3 net keeps its last output on itself
        for network in networks:
            j, confidence, outputs = classify.classify_with_outputs(network["net"], digit)
            answers.append({"name": network["name"], "digit": j,
                            "confidence": round(confidence, 4),
                            "outputs": [round(float(a), 4) for a in outputs]})
    return {"input": np.round(digit * 255).astype(int).ravel().tolist(), "nets": answers}


#### The server
class Handler(BaseHTTPRequestHandler):
    """The page at ``/`` and the drawing's answers at ``POST /classify``;
    every error, its own or http.server's, as JSON {"error": message}."""

    protocol_version = "HTTP/1.1"    # keep-alive: one connection for all strokes
    default_request_version = "HTTP/1.0"    # a garbled request gets a status line too
    disable_nagle_algorithm = True   # headers and body go out at once, not 40 ms apart
    server_version = "draw.py"
    timeout = TIMEOUT

    def do_GET(self):
        path = urlsplit(self.path).path
        if not self.addressed_to_us():
            return
        if path == "/":
            self.send(200, self.server.page, "text/html; charset=utf-8")
        elif path == "/classify":
            self.send_json(405, {"error": "send the drawing with POST"}, Allow="POST")
        else:
            self.send_error(404)

    def do_POST(self):
        path = urlsplit(self.path).path
        if not self.addressed_to_us():
            return
        if path == "/classify":
            self.classify_drawing()
        elif path == "/":
            self.send_json(405, {"error": "the page is read with GET"}, Allow="GET")
        else:
            self.send_error(404)

    def addressed_to_us(self) -> bool:
        """Whether the request names this server (127.0.0.1 or localhost,
        and its port) in its Host header; if not, it is answered 421.  A
        web page on another site whose name was made to point here (DNS
        rebinding) sends its own name, so it cannot use the server."""
        port = self.server.server_address[1]
        host = self.headers.get("Host", "")
        if host in (f"{HOST}:{port}", f"localhost:{port}"):
            return True
        self.close_connection = True
        self.send_json(421, {"error": f"this server answers only requests addressed to "
                                      f"http://{HOST}:{port}/ (Host: {host[:100]!r})"})
        return False

    def wrong_method(self):
        path = urlsplit(self.path).path
        if path in ("/", "/classify"):
            allow = "GET" if path == "/" else "POST"
            self.send_json(405, {"error": f"{self.command} is not used here; "
                                          f"{path} takes {allow}"}, Allow=allow)
        else:
            self.send_error(404)

    do_HEAD = do_GET                 # send() leaves the body out
    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = wrong_method

    def classify_drawing(self):
        start = time.perf_counter()
        try:
            png = request_png(self.headers, self.rfile)
            answer = read_drawing(png, self.server.networks, self.server.lock)
        except RequestError as e:
            self.close_connection = self.close_connection or e.close
            self.send_json(e.status, {"error": str(e)})
            return
        except classify.ClassifyError as e:
            self.send_json(422, {"error": str(e)})
            return
        except Exception as e:      # a fault of ours: one line here and on the page
            problem = f"the drawing could not be read ({type(e).__name__}: {e})"
            print(f"draw.py: {problem}", file=sys.stderr)
            self.send_json(500, {"error": problem})
            return
        answer["server_ms"] = round(1000 * (time.perf_counter() - start), 1)
        self.send_json(200, answer)

    def send_error(self, code, message=None, explain=None):
        """http.server's errors (a bad request line, say) as JSON too."""
        text = {404: "no such page: this server has only / and /classify"}.get(code)
        self.close_connection = self.close_connection or code != 404
        self.send_json(code, {"error": message or text or self.responses.get(
            code, ("error",))[0]})

    def send_json(self, status: int, content: dict, **headers):
        self.send(status, json.dumps(content).encode(), "application/json", **headers)

    def send(self, status: int, body: bytes, content_type: str, **headers):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format, *args):
        pass                    # the terminal stays quiet while the reader draws


class Server(ThreadingHTTPServer):
    """The HTTP server with the networks, the page naming them, and a lock
    so that one drawing at a time goes through the networks."""

    daemon_threads = True

    def __init__(self, port: int):
        super().__init__((HOST, port), Handler)
        self.networks, self.page, self.lock = [], b"", threading.Lock()

    def show(self, networks: list[dict]) -> None:
        self.networks = networks
        names = [{"name": n["name"], "about": n["about"]} for n in networks]
        self.page = PAGE.replace("__NETWORKS__", json.dumps(names).replace(
            "<", "\\u003c")).encode()

    def handle_error(self, request, client_address):
        print(f"draw.py: a request failed: {sys.exc_info()[1]!r}", file=sys.stderr)


#### The command line
def main(argv=None) -> int:
    """Run the command line ``argv``: serve the page until Ctrl-C (exit
    status 0); 2 for a bad argument or network file or a port that cannot
    be used, 1 when the default network could not be made."""
    args = _parser().parse_args(argv)
    problems = argument_problems(args)
    if problems:
        for problem in problems:
            print(f"draw.py: {problem}", file=sys.stderr)
        return 2
    try:
        server = Server(args.port)
    except OSError as e:
        print(f"draw.py: {port_problem(args.port, e)}", file=sys.stderr)
        return 2
    with server:
        try:
            # Loading's messages go to stderr: stdout's first line is the address.
            with contextlib.redirect_stdout(sys.stderr):
                server.show(load_networks(args.net))
        except classify.ClassifyError as e:
            print(f"draw.py: {e}", file=sys.stderr)
            return 2
        except ValueError as e:     # the default network: no MNIST to train it on
            print(f"draw.py: {' '.join(str(e).split())}", file=sys.stderr)
            return 1
        print(f"http://{HOST}:{server.server_address[1]}/", flush=True)
        print("Open that address in a browser and draw a digit; Ctrl-C stops the server.",
              file=sys.stderr, flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="draw.py",
        description="Draw a digit in the browser and watch the book's networks read it.",
        epilog="The page is served on 127.0.0.1 (this computer only); its address is "
               "the first line printed.")
    parser.add_argument("--net", action="append", default=[], metavar="FILE",
                        help="a network saved by network.py, network2.py or network3.py "
                             "(repeat for several); classify.py's default network is "
                             "shown too")
    parser.add_argument("--port", type=int, default=0,
                        help="the port to serve on (default: a free one)")
    return parser


#### Checking the command line and the requests
def argument_problems(args) -> list[str]:
    """classify.py's checks of the --net files, of the folder that keeps the
    default network, and whether the port is one."""
    problems = classify.argument_problems(
        argparse.Namespace(images=[], net=args.net, save_input=None))
    problems.append(classify.default_net_folder_problem())
    if not 0 <= args.port <= 65535:
        problems.append(f"--port {args.port}: not a port number (0 to 65535)")
    return [problem for problem in problems if problem]


def port_problem(port: int, error: OSError) -> str:
    """Why the server could not listen on ``port``, in one line."""
    if error.errno == errno.EADDRINUSE:
        return (f"port {port} on {HOST} is in use; choose another with --port, or "
                f"leave --port out for a free one")
    return f"cannot listen on {HOST}:{port} ({error.strerror or error})"


class RequestError(ValueError):
    """A request the server cannot use: its HTTP status and the reason.
    ``close``: the connection is closed after the answer (its body, if
    any, was not read)."""

    def __init__(self, status: int, message: str, close: bool = False):
        super().__init__(message)
        self.status, self.close = status, close


def request_png(headers, body) -> bytes:
    """The PNG a request carries: its Content-Length must be given and at
    most ``MAX_BODY``, its body a PNG whose header shows at most
    ``MAX_SIDE`` pixels a side.  Anything else raises RequestError."""
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        raise RequestError(411, "send the drawing with a Content-Length, not in chunks",
                           close=True)
    length = headers.get("Content-Length")
    if length is None:
        raise RequestError(411, "the request has no Content-Length", close=True)
    if not (length.strip().isascii() and length.strip().isdigit()):
        raise RequestError(400, f"Content-Length {length[:20]!r} is not a number of bytes",
                           close=True)
    length = int(length)
    if length > MAX_BODY:
        raise RequestError(413, f"the drawing is {length:,} bytes, more than the "
                                f"{MAX_BODY:,} this server takes", close=True)
    try:
        png = body.read(length)
    except TimeoutError:
        raise RequestError(408, f"the drawing did not arrive within {TIMEOUT} seconds",
                           close=True) from None
    if len(png) < length:
        raise RequestError(400, f"the request ended after {len(png):,} of the "
                                f"{length:,} bytes it announced", close=True)
    if not png.startswith(PNG_SIGNATURE):
        raise RequestError(415, "the drawing is not a PNG image")
    if len(png) < 24 or png[12:16] != b"IHDR":
        raise RequestError(400, "the drawing is a PNG image cut short: it has no header")
    width, height = struct.unpack(">II", png[16:24])
    if max(width, height) > MAX_SIDE:
        raise RequestError(413, f"the drawing is {width}x{height} pixels, more than the "
                                f"{MAX_SIDE} a side this server takes")
    return png


#### The page
# One file: the canvas, the 28x28 input, and a card for each network
# (__NETWORKS__ is replaced by their names).  When a stroke ends, the
# canvas goes to /classify as a PNG; only the answer to the latest stroke
# is shown.  #results records, for tests, which stroke was last answered
# (data-answered) and how many milliseconds after its end (data-latency).
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Draw a digit</title>
<link rel="icon" href="data:,">
<style>
  :root { font-family: system-ui, sans-serif; color: #222; background: #f3f3ef; }
  body { margin: 0 auto; padding: 12px 16px 24px; max-width: 1100px; }
  h1 { font-size: 1.25rem; margin: 0 0 10px; }
  h2 { font-size: .95rem; margin: 0 0 6px; }
  main { display: flex; flex-wrap: wrap; gap: 16px 24px; align-items: flex-start; }
  section.pad { flex: 0 1 320px; min-width: 0; }
  #canvas { display: block; width: 100%; max-width: 320px; aspect-ratio: 1;
            background: #fff; border: 1px solid #888; touch-action: none;
            cursor: crosshair; box-sizing: border-box; }
  .tools { display: flex; gap: 12px; align-items: flex-start; margin-top: 8px; }
  button { font-size: 1rem; padding: 6px 18px; }
  #status { flex: 1; font-size: .85rem; color: #555; margin: 0; min-height: 2.6em; }
  #status.error { color: #b00020; }
  section.seen { flex: 0 0 auto; }
  .seen div { display: flex; flex-direction: column; gap: 4px; }
  #preview { display: block; width: 140px; height: 140px; image-rendering: pixelated;
             border: 1px solid #888; background: #fff; }
  .note { font-size: .75rem; color: #666; margin: 0; max-width: 140px; }
  #results { flex: 1 1 300px; min-width: 0; display: grid; gap: 12px;
             grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); }
  .net { background: #fff; border: 1px solid #ccc; border-radius: 6px; padding: 8px 12px 6px; }
  .net h2 { margin: 0; overflow-wrap: anywhere; }
  .about { font-size: .75rem; color: #666; margin: 1px 0 4px; overflow-wrap: anywhere; }
  .reading { display: flex; gap: 12px; align-items: flex-end; }
  .said { width: 4.5em; flex: none; }
  .answer { display: block; font-size: 2.4rem; font-weight: 600; line-height: 1; }
  .confidence { font-size: .75rem; color: #555; }
  .bars { flex: 1; min-width: 0; display: grid; gap: 1px 3px;
          grid-template-columns: repeat(10, minmax(0, 1fr)); font-size: .6rem;
          text-align: center; color: #555;
          font-variant-numeric: tabular-nums; }
  .bar { height: 48px; background: #ececec; display: flex; align-items: flex-end; }
  .bar span { display: block; width: 100%; height: 0; background: #5b84b8; }
  .bar.top span { background: #d9822b; }
  .digit { font-size: .8rem; color: #222; }
  @media (max-width: 700px) {   /* a phone: the input beside its note, to save height */
    .seen div { flex-direction: row; align-items: flex-end; gap: 10px; }
    #preview { width: 84px; height: 84px; }
    .note { max-width: 220px; }
  }
</style>
</head>
<body>
<h1>Draw a digit</h1>
<main>
  <section class="pad">
    <h2>Your drawing</h2>
    <canvas id="canvas" width="280" height="280"
            aria-label="Draw one digit here with the mouse, a pen or a finger"></canvas>
    <div class="tools">
      <button id="clear" type="button">Clear</button>
      <p id="status" role="status">Draw one digit, 0 to 9, large; each stroke is read when it ends.</p>
    </div>
  </section>
  <section class="seen">
    <h2>What the networks see</h2>
    <div>
      <canvas id="preview" width="28" height="28"></canvas>
      <p class="note">28&times;28 pixels: your digit cropped, fitted to 20&times;20 and centred
        by its mass, as MNIST's digits were; darker is more ink.</p>
    </div>
  </section>
  <section id="results" data-answered="0"></section>
</main>
<script>
"use strict";
const NETWORKS = __NETWORKS__;
const canvas = document.getElementById("canvas");
const ctx = canvas.getContext("2d");
const preview = document.getElementById("preview").getContext("2d");
const results = document.getElementById("results");
const status = document.getElementById("status");
const SIDE = canvas.width;
let last = null;        // where the stroke being drawn has reached
let strokes = 0;        // strokes ended (and clears): only the latest is answered

function text(tag, cls, content) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (content !== undefined) e.textContent = content;
  return e;
}

// A card for each network: its name, its answer, ten bars (with their values above).
const cards = NETWORKS.map(network => {
  const card = text("div", "net");
  card.append(text("h2", "", network.name), text("div", "about", network.about));
  const said = text("div", "said");
  const digit = text("span", "answer", "\u2013");
  const confidence = text("span", "confidence", "");
  said.append(digit, confidence);
  const bars = text("div", "bars");
  const values = [], columns = [];
  for (let j = 0; j < 10; j++) values.push(bars.appendChild(text("span", "value", "")));
  for (let j = 0; j < 10; j++) {
    const bar = text("div", "bar"), fill = text("span");
    bar.append(fill);
    bars.append(bar);
    columns.push({bar, fill, value: values[j]});
  }
  for (let j = 0; j < 10; j++) bars.append(text("span", "digit", String(j)));
  const reading = text("div", "reading");
  reading.append(said, bars);
  card.append(reading);
  results.append(card);
  return {card, digit, confidence, rows: columns};
});

function blank() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, SIDE, SIDE);
  unanswered();
}

function unanswered() {
  preview.fillStyle = "#fff";
  preview.fillRect(0, 0, 28, 28);
  for (const c of cards) {
    c.digit.textContent = "\\u2013";
    c.confidence.textContent = "";
    for (const r of c.rows) {
      r.fill.style.height = "0";
      r.value.textContent = "";
      r.bar.classList.remove("top");
    }
  }
}

function at(e) {
  const box = canvas.getBoundingClientRect();
  return [(e.clientX - box.left) * SIDE / box.width, (e.clientY - box.top) * SIDE / box.height];
}

function line(from, to) {
  ctx.lineWidth = SIDE / 14;
  ctx.lineCap = ctx.lineJoin = "round";
  ctx.strokeStyle = "#000";
  ctx.beginPath();
  ctx.moveTo(from[0], from[1]);
  ctx.lineTo(to[0], to[1]);
  ctx.stroke();
}

canvas.addEventListener("pointerdown", e => {
  if (e.pointerType === "mouse" && e.button !== 0) return;
  e.preventDefault();
  canvas.setPointerCapture(e.pointerId);
  last = at(e);
  line(last, last);
});
canvas.addEventListener("pointermove", e => {
  if (!last) return;
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
  for (const m of (events.length ? events : [e])) {
    const p = at(m);
    line(last, p);
    last = p;
  }
});
function strokeEnd() {
  if (!last) return;
  last = null;
  const stroke = ++strokes, ended = performance.now();
  // toDataURL, not toBlob: Chromium may hold toBlob's PNG for an idle moment (1 s headless)
  const png = Uint8Array.from(atob(canvas.toDataURL("image/png").split(",")[1]),
                              c => c.charCodeAt(0));
  fetch("classify", {method: "POST", headers: {"Content-Type": "image/png"}, body: png})
    .then(r => r.json().then(answer => [r.ok, answer],
                             () => [false, {error: "the server answered " + r.status}]))
    .then(([ok, answer]) => { if (stroke === strokes) (ok ? show : fail)(answer, stroke, ended); })
    .catch(e => {
      if (stroke === strokes) fail({error: "no answer from the server (" + e.message + ")"},
                                   stroke, ended);
    });
}
canvas.addEventListener("pointerup", strokeEnd);
canvas.addEventListener("pointercancel", strokeEnd);

function show(answer, stroke, ended) {
  const image = preview.createImageData(28, 28);
  answer.input.forEach((ink, i) => {
    image.data.fill(255 - ink, 4 * i, 4 * i + 3);
    image.data[4 * i + 3] = 255;
  });
  preview.putImageData(image, 0, 0);
  answer.nets.forEach((net, k) => {
    const c = cards[k];
    c.digit.textContent = String(net.digit);
    c.confidence.textContent = "confidence " + (100 * net.confidence).toFixed(1) + "%";
    net.outputs.forEach((a, j) => {
      const r = c.rows[j];
      r.fill.style.height = (100 * Math.min(1, Math.max(0, a))).toFixed(1) + "%";
      r.value.textContent = a >= 0.995 ? "1" : a < 0.005 ? "0" : a.toFixed(2).slice(1);
      r.bar.classList.toggle("top", j === net.digit);
    });
  });
  status.className = "";
  status.textContent = "Read in " + answer.server_ms +
                       " ms. Add a stroke, or Clear to start again.";
  answered(stroke, ended);
}

function fail(answer, stroke, ended) {
  unanswered();
  status.className = "error";
  status.textContent = answer.error + ". Clear to start again.";
  answered(stroke, ended);
}

function answered(stroke, ended) {
  results.dataset.latency = (performance.now() - ended).toFixed(1);
  results.dataset.answered = String(stroke);
}

document.getElementById("clear").addEventListener("click", () => {
  strokes++;
  last = null;
  blank();
  status.className = "";
  status.textContent = "Draw one digit, 0 to 9, large; each stroke is read when it ends.";
});
blank();
</script>
</body>
</html>
"""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
