"""Downloads from misbehaving mirrors, served by a local HTTP server.

The server listens on 127.0.0.1 only (nothing else is ever contacted) and
each of its paths misbehaves one way: it drops the connection, stalls,
trickles its headers, says nothing, sends too much, sends a gzip bomb, a broken CRC, a bad
status line, an over-long header or a broken chunk.  Each case lists that
mirror before a good one and checks that ``mnist_files.fetch`` moves on and
gets the right file, with one progress line per mirror on stderr; the
last test lists only bad mirrors and checks the offline instructions.
Every handler stops by itself within a few seconds.
"""

import gzip
import http.server
import threading
import time
import zlib

import pytest

import mnist_files
from safe_files import DataFileError

NAME = "t10k-labels-idx1-ubyte.gz"
BOMB = gzip.compress(bytes(8 << 20), compresslevel=9)  # 8 MiB of zeros in 8 kB
HANDLER_SECONDS = 5  # the longest any misbehaving handler keeps going
TIMEOUT, DEADLINE = 1.0, 2.0  # what the tests give fetch


class Mirrors(http.server.BaseHTTPRequestHandler):
    """GET /<behaviour>/<file name> misbehaves as the method serve_<behaviour> does.

    ``good`` (the real file), ``bad_crc`` and ``other_file`` are set by the
    ``server`` fixture, from the data the suite fetched at its start."""

    good = bad_crc = other_file = b""

    def log_message(self, *args):
        pass

    def do_GET(self):
        behaviour = self.path.strip("/").split("/")[0]
        try:
            getattr(self, f"serve_{behaviour}")()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def headers_for(self, body_length, status=200):
        self.send_response(status)
        if body_length is not None:
            self.send_header("Content-Length", str(body_length))
        self.end_headers()

    def serve_good(self):
        self.headers_for(len(self.good))
        self.wfile.write(self.good)

    def serve_drop(self):  # the connection drops halfway (IncompleteRead)
        self.headers_for(len(self.good))
        self.wfile.write(self.good[: len(self.good) // 2])

    def serve_stall(self):  # a byte every 0.1 s: no single read ever times out
        self.headers_for(len(self.good))
        for byte, _ in zip(self.good, range(HANDLER_SECONDS * 10)):
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(0.1)

    def serve_trickled_headers(self):  # a header a byte every 0.1 s, never ending
        self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(HANDLER_SECONDS * 10):
            self.wfile.write(b"a")
            self.wfile.flush()
            time.sleep(0.1)

    def serve_silent(self):  # headers, then nothing
        self.headers_for(len(self.good))
        self.wfile.flush()
        time.sleep(HANDLER_SECONDS)

    def serve_announces_too_much(self):
        self.headers_for(10 ** 12)
        self.wfile.write(self.good)

    def serve_endless(self):  # no length, and more bytes than the file can need:
        self.headers_for(None)  # a gzip header, then empty deflate blocks forever
        self.wfile.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")
        start = time.monotonic()
        while time.monotonic() - start < HANDLER_SECONDS:
            self.wfile.write(b"\x00\x00\x00\xff\xff" * 4096)

    def serve_bomb(self):
        self.headers_for(len(BOMB))
        self.wfile.write(BOMB)

    def serve_bad_crc(self):
        self.headers_for(len(self.bad_crc))
        self.wfile.write(self.bad_crc)

    def serve_other_file(self):
        self.headers_for(len(self.other_file))
        self.wfile.write(self.other_file)

    def serve_not_found(self):
        self.send_error(404)

    def serve_bad_status(self):
        self.wfile.write(b"HTTP/1.1 abc\r\n\r\n")

    def serve_long_header(self):
        self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n")

    def serve_bad_chunk(self):
        self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n")


@pytest.fixture(scope="module")
def good() -> bytes:
    """The real file, as the mirrors should serve it."""
    return (mnist_files.data_dir() / NAME).read_bytes()


@pytest.fixture(scope="module")
def server(good):
    Mirrors.good = good
    Mirrors.bad_crc = good[:-8] + bytes([good[-8] ^ 0xFF]) + good[-7:]
    Mirrors.other_file = (mnist_files.data_dir() / "train-labels-idx1-ubyte.gz").read_bytes()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Mirrors)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


# behaviour -> what the problem line must say
BAD_MIRRORS = {
    "drop": "IncompleteRead|ends early",
    "stall": f"took more than {DEADLINE:g} s",
    "trickled_headers": f"took more than {DEADLINE:g} s",
    "silent": "timed out",
    "announces_too_much": "announces 1,000,000,000,000 bytes",
    "endless": "sent more than the 11,042 bytes",
    "bomb": "decompresses to more than the 10,008 bytes",
    "bad_crc": "incorrect data check",
    "other_file": "announces 28,902 bytes",
    "not_found": "HTTP Error 404",
    "bad_status": "BadStatusLine",
    "long_header": "LineTooLong|got more than",
    "bad_chunk": "IncompleteRead|ValueError|invalid literal",
}

MALFORMED_URLS = ["htp:/nowhere/", "http://[::1/", "", "http://127.0.0.1:0/"]


def fetch_into(tmp_path, mirrors):
    target = tmp_path / "data"
    target.mkdir(exist_ok=True)
    return target, mnist_files.fetch(NAME, target, mirrors, timeout=TIMEOUT, deadline=DEADLINE)


@pytest.mark.parametrize("behaviour", list(BAD_MIRRORS))
def test_a_misbehaving_mirror_is_passed_over_for_the_next(behaviour, server, good, tmp_path,
                                                          capsys):
    import re

    bad, good_mirror = f"{server}/{behaviour}/", f"{server}/good/"
    start = time.monotonic()
    target, path = fetch_into(tmp_path, [bad, good_mirror])
    elapsed = time.monotonic() - start
    assert path == target / NAME and path.read_bytes() == good
    assert [p.name for p in target.iterdir()] == [NAME]  # no temporary left
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith(f"Could not download {NAME} from {bad} (")
    assert re.search(BAD_MIRRORS[behaviour], lines[0]), lines[0]
    assert lines[1] == f"Downloaded {NAME} ({len(good):,} bytes) from {good_mirror}"
    # The deadline and the read timeout bound every attempt (with room for a slow machine).
    assert elapsed < DEADLINE + TIMEOUT + 10


@pytest.mark.parametrize("url", MALFORMED_URLS)
def test_a_malformed_mirror_url_is_passed_over(url, server, good, tmp_path, capsys):
    target, path = fetch_into(tmp_path, [url, f"{server}/good/"])
    assert path.read_bytes() == good
    assert capsys.readouterr().err.splitlines()[0].startswith(f"Could not download {NAME} from")


def test_with_only_bad_mirrors_the_offline_instructions_list_every_problem(server, tmp_path):
    mirrors = [f"{server}/{behaviour}/" for behaviour in ("drop", "bomb", "bad_status")]
    with pytest.raises(DataFileError) as error:
        fetch_into(tmp_path, mirrors + ["htp:/nowhere/"])
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"MNIST file {NAME} is not in {tmp_path / 'data'} "
                              f"and could not be downloaded; copy the four files ")
    assert mnist_files.DATA_DIR_ENV in message
    for name in mnist_files.IDX_FILES:
        assert name in message
    problems = message.split("(what went wrong: ")[1].removesuffix(")").split("; ")
    assert [p.split(NAME)[0].strip() for p in problems] == mirrors + ["htp:/nowhere/"]
    assert list((tmp_path / "data").iterdir()) == []


def test_a_file_already_present_is_not_downloaded(tmp_path, capsys):
    (tmp_path / NAME).write_bytes(b"whatever is there")
    assert mnist_files.fetch(NAME, tmp_path, ["http://127.0.0.1:0/"]) == tmp_path / NAME
    assert capsys.readouterr().err == ""


def test_the_good_mirror_serves_what_the_checksum_expects(good):
    assert zlib.crc32(gzip.decompress(good)) == int.from_bytes(good[-8:-4], "little")
