"""``rnnkit serve``: the HTTP API's bounds, and the page driven in a real headless Chromium.

The server runs as ``rnnkit serve`` in a subprocess on a free loopback port (``--port 0``:
the kernel picks one, the server prints its URL). The browser test needs Debian's
``chromium`` and ``chromium-driver`` and the ``selenium`` package; when they are missing
or Chromium cannot start, it FAILS (it never skips): CI installs them.

The screenshots go to ``tests/artifacts/`` (or ``$RNNKIT_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers.browser import chromium_driver

from rnnkit.train.lm_config import TrainConfig
from rnnkit.train.lm_trainer import train
from rnnkit.viz.serve import MAX_BODY, make_server

TEXT = (
    "the king and the queen are here.\nROMEO: what light through yonder window breaks?\n"
    'JULIET: (aside) o romeo, romeo! "wherefore art thou" romeo?\n'
) * 40
ARTIFACTS = Path(os.environ.get("RNNKIT_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("serve")
    (d / "corpus.txt").write_text(TEXT, encoding="utf-8")
    cfg = TrainConfig(
        files=[str(d / "corpus.txt")],
        hidden=24,
        layers=2,
        seq_len=16,
        batch=4,
        max_steps=10,
        eval_every=10,
        save_every=10,
        log_every=5,
        val_chars=0,
        warmup=0,
        progress=False,
    )
    assert train(cfg, d / "run", log=lambda *a: None) == 0
    return d / "run"


@pytest.fixture(scope="module")
def server(run_dir):
    """`rnnkit serve` in a subprocess on a free loopback port; yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnkit", "serve", str(run_dir), "--port", "0", "--quiet", "--delay-ms", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("rnnkit serve: http://127.0.0.1:"), (
            line,
            proc.stderr.read() if proc.poll() is not None else "",
        )
        yield line.split()[2].rstrip("/")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def post(url: str, body, raw: bytes | None = None, timeout: float = 10):
    """(status, parsed JSON or the text lines) of a POST to url."""
    data = raw if raw is not None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, [json.loads(l) for l in r.read().decode("utf-8").splitlines() if l]
    except urllib.error.HTTPError as e:
        assert e.headers["Content-Type"].startswith("application/json")
        return e.code, json.loads(e.read().decode("utf-8"))


# --------------------------------------------------------------------- HTTP API
def test_generate_streams_every_character_with_states_and_distribution(server):
    status, events = post(
        server + "/api/generate", {"prime": "ROMEO:", "temperature": 0.7, "top_k": 5, "length": 25, "seed": 1}
    )
    assert status == 200
    assert events[0]["type"] == "start" and events[-1]["type"] == "end"
    chars = events[1:-1]
    assert len(chars) == 6 + 25
    assert "".join(e["ch"] for e in chars[:6]) == "ROMEO:" and all(e["prime"] for e in chars[:6])
    for e in chars:
        assert len(e["h"]) == 2 and all(len(row) == 24 for row in e["h"])
        assert all(-1000 <= v <= 1000 for row in e["h"] for v in row)
        ps = [p for _, p in e["top"]]
        assert len(ps) == 10 and ps == sorted(ps, reverse=True) and 0 < sum(ps) <= 1.0001
    assert all(0 < e["p"] <= 1 for e in chars[6:])
    # the same seed gives the same text
    _, again = post(
        server + "/api/generate", {"prime": "ROMEO:", "temperature": 0.7, "top_k": 5, "length": 25, "seed": 1}
    )
    assert [e.get("ch") for e in again] == [e.get("ch") for e in events]


@pytest.mark.parametrize(
    "body, status, needle",
    [
        ({"prime": "ROMEO \u20ac\u00e9", "length": 5}, 400, "U+20AC"),  # unknown characters
        ({"prime": "the", "length": 10**9}, 400, "length must lie in [1, 2000]"),
        ({"prime": "the", "length": 0}, 400, "length"),
        ({"prime": "the", "length": "many"}, 400, "length must be a number"),
        ({"prime": "the", "length": 2.5}, 400, "whole number"),
        ({"prime": "the", "temperature": -3}, 400, "temperature"),
        ({"prime": "the", "temperature": True}, 400, "temperature must be a number"),
        ({"prime": "the", "top_k": -1}, 400, "top_k"),
        ({"prime": "the", "seed": -1}, 400, "seed"),
        ({"prime": ""}, 400, "prime"),
        ({"prime": 42}, 400, "prime"),
        ({"prime": "t" * 2001}, 400, "limit"),
        ({"prime": "the", "evil": 1}, 400, "unknown fields"),
        (["not", "an", "object"], 400, "JSON object"),
    ],
)
def test_bad_requests_get_4xx_with_a_json_message(server, body, status, needle):
    code, msg = post(server + "/api/generate", body)
    assert code == status and needle in msg["error"], msg


def test_malformed_bodies_and_routes(server):
    code, msg = post(server + "/api/generate", None, raw=b"{not json")
    assert code == 400 and "not valid JSON" in msg["error"]
    code, msg = post(server + "/api/generate", None, raw=b"[" * 10 + b"x" * (MAX_BODY + 10))
    assert code == 413
    code, msg = post(server + "/api/generate", None, raw=b'{"prime": "a", "temperature": NaN}')
    assert code == 400 and "finite" in msg["error"]
    for path, want in (("/nope", 404), ("/api/generate", 405)):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(server + path, timeout=5)
        assert e.value.code == want and "error" in json.loads(e.value.read())
    with urllib.request.urlopen(server + "/", timeout=5) as r:
        page = r.read().decode("utf-8")
    assert "<script src" not in page and "https://" not in page and "http://" not in page  # no CDN
    with urllib.request.urlopen(server + "/api/info", timeout=5) as r:
        info = json.loads(r.read())
    assert info["layers"] == 2 and info["hidden"] == 24 and info["max_length"] == 2000


def test_the_default_prime_is_the_first_line_of_the_training_text(server):
    with urllib.request.urlopen(server + "/api/info", timeout=5) as r:
        info = json.loads(r.read())
    assert info["prime"] == "the king and the queen are here.\n" == TEXT.split("\n")[0] + "\n"
    status, events = post(server + "/api/generate", {"prime": info["prime"], "temperature": 0, "length": 5})
    assert status == 200 and all(e["p"] == 1.0 for e in events[1:-1] if not e["prime"])  # 0: greedy


def test_concurrent_generations_are_bounded_429(run_dir):
    """One slot: while a slow generation streams, a second request gets 429; after it, one gets through."""
    srv = make_server(run_dir, port=0, max_concurrent=1, delay_ms=20, quiet=True)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    host, port = srv.server_address[:2]
    base = f"http://{host}:{port}"
    try:
        first = http.client.HTTPConnection(host, port, timeout=10)
        first.request(
            "POST",
            "/api/generate",
            body=json.dumps({"prime": "the", "length": 500}),
            headers={"Content-Type": "application/json"},
        )
        r1 = first.getresponse()
        assert r1.status == 200
        assert json.loads(r1.readline())["type"] == "start"  # streaming has begun
        code, msg = post(base + "/api/generate", {"prime": "the", "length": 3})
        assert code == 429 and "busy" in msg["error"]
        first.close()  # the client goes away: the server stops and frees the slot
        deadline = time.monotonic() + 5
        while True:
            code, _ = post(base + "/api/generate", {"prime": "the", "length": 3})
            if code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert code == 200
    finally:
        srv.shutdown()
        srv.server_close()


# ----------------------------------------------------------------- real browser
CANVAS_INK = """
const c = document.getElementById(arguments[0]);
const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
let ink = 0;
for (let i = 0; i < d.length; i += 4)
  if (d[i + 3] > 0 && (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250)) ink++;
return [c.width, c.height, ink];
"""


def test_browser_generates_text_and_draws_the_heat_map(server, run_dir, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver = chromium_driver(tmp_path)
    try:
        driver.set_page_load_timeout(15)
        driver.get(server + "/")
        assert "rnnkit" in driver.title
        prime = driver.find_element(By.ID, "prime")
        assert prime.get_attribute("value") == TEXT.split("\n")[0] + "\n"  # the training text's first line
        prime.clear()
        prime.send_keys("ROMEO: ")
        for field, value in (("temperature", "0.8"), ("topk", "10"), ("length", "120"), ("seed", "7")):
            el = driver.find_element(By.ID, field)
            el.clear()
            el.send_keys(value)
        driver.find_element(By.ID, "generate").click()
        WebDriverWait(driver, 20).until(
            lambda d: (
                d.execute_script("return document.body.dataset.done === '1'")
                or d.find_element(By.ID, "error").text
            )
        )
        assert driver.find_element(By.ID, "error").text == ""
        spans = driver.find_elements(By.CSS_SELECTOR, "#output span")
        assert len(spans) == len("ROMEO: ") + 120
        text = driver.execute_script(
            "return Array.from(document.querySelectorAll('#output span'))"
            ".map(s => s.textContent.replace('\\u21b5\\n', '\\n')).join('')"
        )
        assert text.startswith("ROMEO: ") and len(text) == 127
        colours = driver.execute_script(
            "return Array.from(document.querySelectorAll('#output span')).map(s => s.style.backgroundColor)"
        )
        assert all(c.startswith("rgb(") for c in colours) and len(set(colours)) > 5  # coloured by a unit
        w, h, ink = driver.execute_script(CANVAS_INK, "heatmap")
        assert w >= 127 and h >= 24 and ink > 0.5 * 127 * 24, (w, h, ink)  # the heat map is drawn
        bars = driver.find_elements(By.CSS_SELECTOR, "#distbars .bar-row")
        assert len(bars) == 10  # next-char distribution
        assert "Generated" not in driver.find_element(By.ID, "status").text
        assert "generated 120 characters" in driver.find_element(By.ID, "status").text
        driver.save_screenshot(str(ARTIFACTS / "serve.png"))
        print(f"screenshot: {ARTIFACTS / 'serve.png'}")

        # clicking a heat-map row recolours the text by that unit
        before = colours
        driver.execute_script(
            "document.getElementById('unit').value = 5;"
            "document.getElementById('unit').dispatchEvent(new Event('change'));"
        )
        after = driver.execute_script(
            "return Array.from(document.querySelectorAll('#output span')).map(s => s.style.backgroundColor)"
        )
        assert after != before

        # a bad prime shows the server's 4xx message on the page
        prime.clear()
        prime.send_keys("\u20ac")
        driver.find_element(By.ID, "generate").click()
        WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "error").text)
        assert "HTTP 400" in driver.find_element(By.ID, "error").text
        assert "U+20AC" in driver.find_element(By.ID, "error").text
    finally:
        driver.quit()


def test_browser_inspect_page_colours_text_and_shows_top5(run_dir, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    from rnnkit.cli import main

    src = tmp_path / "in.txt"
    src.write_text('JULIET: (aside) o romeo, "wherefore art thou" romeo?\n', encoding="utf-8")
    html = tmp_path / "units.html"
    assert main(["inspect", str(run_dir), "--text", str(src), "--html", str(html)]) == 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver = chromium_driver(tmp_path)
    try:
        driver.get(html.as_uri())
        spans = driver.find_elements(By.CSS_SELECTOR, "#text span.c")
        assert len(spans) == len(src.read_text(encoding="utf-8"))
        colours = [s.value_of_css_property("background-color") for s in spans]
        assert len(set(colours)) > 5
        ActionChains(driver).move_to_element(spans[3]).perform()
        tip = driver.find_element(By.ID, "tip")
        assert tip.is_displayed() and len(tip.find_elements(By.CSS_SELECTOR, ".row")) == 5
        rows = driver.find_elements(By.CSS_SELECTOR, "table.rank tr")
        assert rows
        rows[-1].click()
        assert driver.find_element(By.ID, "unit").get_attribute("value") == rows[-1].get_attribute(
            "data-unit"
        )
        driver.save_screenshot(str(ARTIFACTS / "inspect.png"))
    finally:
        driver.quit()
