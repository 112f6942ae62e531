"""A small local web app: type a prime, sample from the model, watch the text and its hidden units.

Standard library only (``http.server.ThreadingHTTPServer``), on 127.0.0.1 by default; the
page's script and style are inline, so it works offline. Routes, for a character LM's run:

    GET  /               the page
    GET  /api/info       the model: layers, hidden size, vocabulary, limits, the default
                         prime (the first line of its training text, or empty)
    POST /api/generate   JSON {"prime", "temperature", "top_k", "length", "seed"?} ->
                         a chunked stream of JSON lines (application/x-ndjson):
                         {"type": "start", ...}, then one {"type": "char", "ch", "prime",
                         "p", "h": [layer][unit] (activation x 1000), "top": [[ch, prob]]}
                         per character (the prime's, then the sampled ones), then
                         {"type": "end", ...}

"top" is the next-character distribution after that character (before temperature and
top-k), and "p" the probability, under the filtered distribution, of the sampled character.
Temperature 0 is greedy (the most probable character, p = 1), as in ``rnnkit sample``.

A form's run (classify, tag, seq2seq, generate) gets its own page and ``POST /api/predict``
instead of ``/api/generate`` (``serve_forms.py``): type a text, see the prediction as you type.

Bounds, so one user can't hang the server: the request body is at most 64 KiB, the prime
and the length are capped (``--max-length``), numbers are checked (400 with a JSON
``{"error": ...}`` message otherwise, as for characters outside the vocabulary, or a body
nested too deeply to parse), and at most ``--max-concurrent`` generations run at once (429
when busy). A client that goes away mid-request costs one log line, not a traceback.

    rnnkit serve runs/shakespeare --port 8000
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np

from rnnkit.data.corpus import load_prepared
from rnnkit.data.vocab import Vocab
from rnnkit.decode.lm import greedy_char, stream_tokens
from rnnkit.decode.sampler import GumbelDraw, filter_probs
from rnnkit.errors import RnnkitError
from rnnkit.models.char_rnn import CharRNN
from rnnkit.models.stream_step import stream_for
from rnnkit.nn.softmax_cross_entropy import softmax
from rnnkit.train.load_lm import load_lm
from rnnkit.train.load_task import load_task

from . import serve_requests as checks
from .inspect_units import ACT_SCALE, embed_json, fill, template
from .run_task import task_of
from .serve_forms import FormPredictor
from .serve_requests import MAX_TEMPERATURE, BadRequest, check_fields, number

if TYPE_CHECKING:
    import socket

MAX_BODY = 64 * 1024
TOP_N = 10  # next-character probabilities sent per character
# The page's script and style are inline, and it talks to this server only.
PAGE_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:"
)


@dataclass
class Generator:
    """The LM and the request rules, shared by every handler thread (read-only).

    ``post_path`` is the route its requests come to; ``streams``: the answer is a stream of
    events (``stream``), not one JSON object.
    """

    FIELDS = {"prime", "temperature", "top_k", "length", "seed"}
    post_path, streams = "/api/generate", True

    model: CharRNN
    vocab: Vocab
    max_length: int = 2000
    max_prime: int = 2000
    delay_s: float = 0.0
    prime: str = ""

    def info(self) -> dict:
        c = self.model.cfg
        return {
            "task": "lm",
            "layers": c.layers,
            "hidden": c.hidden,
            "vocab": self.vocab.chars,
            "act_scale": ACT_SCALE,
            "max_length": self.max_length,
            "max_prime": self.max_prime,
            "max_temperature": MAX_TEMPERATURE,
            "top_n": TOP_N,
            "prime": self.prime,
        }

    def parse(self, body: object) -> dict:
        """Check a request body; returns the arguments of ``stream`` or raises ``BadRequest``."""
        body = check_fields(body, self.FIELDS)
        prime = checks.text(body, "prime", self.max_prime)
        try:
            ids = self.vocab.encode(prime, what="prime")
        except RnnkitError as e:
            raise BadRequest(400, str(e)) from None
        temperature = checks.temperature(body, 0.8)
        top_k = number(body, "top_k", 0, int)
        if not 0 <= top_k <= len(self.vocab):
            raise BadRequest(400, f"top_k must lie in [0, {len(self.vocab)}] (0: no limit), got {top_k}")
        length = number(body, "length", 200, int)
        if not 1 <= length <= self.max_length:
            raise BadRequest(400, f"length must lie in [1, {self.max_length}], got {length}")
        return {
            "prime_ids": ids,
            "temperature": temperature,
            "top_k": top_k,
            "length": length,
            "seed": checks.seed(body),
        }

    def _event(self, c: int, h: np.ndarray, logits: np.ndarray, prime: bool, p: float | None) -> dict:
        probs = softmax(logits.astype(np.float64))  # (V,)
        top = np.argsort(-probs, kind="stable")[:TOP_N]
        return {
            "type": "char",
            "ch": self.vocab.chars[c],
            "prime": prime,
            "p": None if p is None else round(float(p), 4),
            "h": np.rint(h[:, 0] * ACT_SCALE).astype(np.int32).tolist(),  # (L, H)
            "top": [[self.vocab.chars[i], round(float(probs[i]), 4)] for i in top],
        }

    def stream(
        self, prime_ids: np.ndarray, temperature: float, top_k: int, length: int, seed: int | None
    ) -> Iterator[dict]:
        """Yield the events of one generation: start, every character, end."""
        t0 = time.perf_counter()
        m = self.model
        yield {
            "type": "start",
            "prime_chars": int(len(prime_ids)),
            "length": length,
            "layers": m.cfg.layers,
            "hidden": m.cfg.hidden,
        }
        stream = stream_for(m)  # the same fused step as ``rnnkit sample``
        logits = None
        for c in prime_ids:
            logits = stream.step(int(c))  # (V,)
            yield self._event(int(c), stream.state, logits, True, None)  # state (L, 1, H)
        if temperature == 0:  # greedy, as rnnkit sample's: the drawn char has p = 1
            draw = greedy_char

            def draw_probs(logits: np.ndarray) -> np.ndarray:
                return np.eye(len(logits))[greedy_char(logits)]
        else:
            draw = GumbelDraw(len(logits), length, temperature, top_k, seed=seed)  # rnnkit sample's draw

            def draw_probs(logits: np.ndarray) -> np.ndarray:
                return filter_probs(logits, temperature, top_k)

        chars = stream_tokens(stream, logits, length, draw)  # rnnkit sample's loop
        p = draw_probs(logits)  # shown with the char drawn from it
        for _ in range(length):
            # errstate around each draw only, not across the yield (see GumbelDraw)
            with np.errstate(over="ignore"):
                c, logits = next(chars)  # c was drawn from p and fed: logits are the next char's
            if logits is None:  # the last char: the loop does not feed it, the page shows it fed
                logits = stream.step(c)
            yield self._event(c, stream.state, logits, False, p[c])
            p = draw_probs(logits)  # now: the next step overwrites logits
            if self.delay_s:
                time.sleep(self.delay_s)
        yield {"type": "end", "generated": length, "seconds": round(time.perf_counter() - t0, 3)}


def stderr_line(line: str) -> None:
    """Where the request log goes by default: one line on stderr, as ``http.server`` logs."""
    sys.stderr.write(line + "\n")


class VizServer(ThreadingHTTPServer):
    """The HTTP server: ``log`` takes each request-log line (None: no log)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        addr,
        gen: Generator,
        max_concurrent: int = 2,
        page: str = "",
        log: Callable[[str], None] | None = stderr_line,
    ):
        super().__init__(addr, Handler)
        self.gen = gen
        self.slots = threading.BoundedSemaphore(max_concurrent)
        self.max_concurrent = max_concurrent
        self.page = page.encode("utf-8")
        self.log = log

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        """A client that goes away mid-request (broken pipe, reset) costs one log line, not a
        traceback; any other error keeps ``socketserver``'s traceback."""
        e = sys.exc_info()[1]
        if not isinstance(e, ConnectionError):
            super().handle_error(request, client_address)
        elif self.log is not None:
            self.log(f"{client_address[0]} client disconnected: {e.strerror or type(e).__name__}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked streaming for /api/generate
    server_version = "rnnkit-serve"
    timeout = 30  # seconds a client may take to send its request

    # ----------------------------------------------------------------- helpers
    def log_message(self, fmt: str, *args: Any) -> None:
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} {fmt % args}")

    def _send(self, status: int, body: bytes, ctype: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj, extra: dict | None = None) -> None:
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8", extra)

    def _error(self, status: int, message: str, extra: dict | None = None) -> None:
        if self.close_connection:
            extra = {**(extra or {}), "Connection": "close"}
        self._json(status, {"error": message, "status": status}, extra)

    # malformed requests, from http.server
    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        self.close_connection = True
        self._error(code, message or HTTPStatus(code).phrase)

    # ------------------------------------------------------------------ routes
    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path in ("/", "/index.html"):
            csp = {"Content-Security-Policy": PAGE_POLICY}
            self._send(200, self.server.page, "text/html; charset=utf-8", csp)
        elif path == "/api/info":
            self._json(200, self.server.gen.info())
        elif path == self.server.gen.post_path:
            self._error(405, "use POST with a JSON body", {"Allow": "POST"})
        else:
            self._error(404, f"no such page: {path}")

    do_HEAD = do_GET

    def do_POST(self) -> None:
        path, app = urlsplit(self.path).path, self.server.gen
        if path != app.post_path:
            self._error(404 if path not in ("/", "/api/info") else 405, f"cannot POST to {path}")
            return
        try:
            args = app.parse(self._read_json())
        except BadRequest as e:
            self._error(e.status, str(e))
            return
        if not self.server.slots.acquire(blocking=False):
            busy = f"busy: {self.server.max_concurrent} generations are running; try again shortly"
            self._error(429, busy, {"Retry-After": "1"})
            return
        try:
            if app.streams:
                self._stream(app.stream(**args))
            else:
                try:
                    answer = app.predict(**args)
                except RnnkitError as e:  # the text does not fit the model (an empty source, say)
                    self._error(400, str(e))
                else:
                    self._json(200, answer)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away: stop generating
        finally:
            self.server.slots.release()

    def _read_json(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise BadRequest(411, "send the body with a Content-Length, not chunked")
        n = self.headers.get("Content-Length")
        if n is None:
            self.close_connection = True
            raise BadRequest(411, "a Content-Length header is required")
        try:
            n = int(n)
        except ValueError:
            self.close_connection = True
            raise BadRequest(400, "Content-Length must be a number") from None
        if n < 0 or n > MAX_BODY:
            self.close_connection = True  # the body is left unread
            raise BadRequest(413, f"the body may hold at most {MAX_BODY} bytes, got {n}")
        raw = self.rfile.read(n)
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise BadRequest(400, f"the body is not valid JSON: {e}") from None
        except RecursionError:  # e.g. 30,000 nested brackets: small, but deeper than Python's stack
            raise BadRequest(400, "the body is nested too deeply; send a flat JSON object") from None

    def _stream(self, events) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        for ev in events:
            data = (json.dumps(ev, ensure_ascii=False) + "\n").encode("utf-8")
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def training_prime(run_dir: Path, ckpt_dir: Path, vocab: Vocab, most: int = 200) -> str:
    """The first line of an LM run's training text (with its newline, at most ``most``
    characters): serve's default prime. Empty when the run's prepared text is not at hand."""
    for run in (Path(run_dir), Path(ckpt_dir).resolve().parent.parent):
        data = run / "data"
        if not (data / "meta.json").is_file():
            continue
        try:
            prep = load_prepared(data)
        except RnnkitError:
            continue
        if prep.vocab.chars != vocab.chars:
            continue
        head = vocab.decode(prep.train_ids()[:most])
        return head[: head.index("\n") + 1] if "\n" in head else head
    return ""


def make_server(
    run_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_length: int = 2000,
    max_concurrent: int = 2,
    delay_ms: float = 0.0,
    which: str = "best",
    quiet: bool = False,
    log: Callable[[str], None] = stderr_line,
) -> VizServer:
    """The server for ``run_dir``'s model on ``host:port`` (port 0: any free one), not yet
    serving: call ``serve_forever()``, then ``server_close()``. Each request-log line goes
    to ``log`` (stderr), none with ``quiet``. An LM's run gets the sampling page
    (``Generator``), a form's run the page that predicts as you type (``FormPredictor``)."""
    if not 0 <= port <= 65535:
        raise RnnkitError(f"`port` must lie in [0, 65535], got {port}")
    if max_length < 1 or max_concurrent < 1:
        raise RnnkitError("`max_length` and `max_concurrent` must be positive")
    if not 0 <= delay_ms <= 1000:
        raise RnnkitError(f"`delay_ms` must lie in [0, 1000], got {delay_ms}")
    if task_of(run_dir, which) in (None, "lm"):
        model, vocab, c = load_lm(run_dir, which)
        prime = training_prime(run_dir, c.dir, vocab)
        gen = Generator(model, vocab, max_length, max_prime=max_length, delay_s=delay_ms / 1000, prime=prime)
        name = "serve.html"
    else:
        form, model, c = load_task(run_dir, None, which)
        gen, name = FormPredictor(form, model, max_length), "serve_form.html"
    info = gen.info()
    info["source"] = str(c.dir)
    page = fill(template(name), TITLE="rnnkit serve", DATA=embed_json(info))
    try:
        return VizServer((host, port), gen, max_concurrent, page, None if quiet else log)
    except OSError as e:
        raise RnnkitError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
