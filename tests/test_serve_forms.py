"""``rnnkit serve`` on a form's run: ``POST /api/predict`` answers what ``rnnkit inspect`` shows of
one example, and the page predicts as the user types (a real headless Chromium; see
``helpers/browser.py``).

One tiny run of each form is trained once for the module (``helpers.form_runs``); each
server runs in a thread on a free loopback port.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from helpers import form_runs
from helpers.browser import chromium_driver

from rnnkit.decode.forms import generator_greedy
from rnnkit.train.load_task import load_task
from rnnkit.viz.serve import make_server

ARTIFACTS = Path(os.environ.get("RNNKIT_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    return form_runs(tmp_path_factory.mktemp("forms"))


@pytest.fixture(scope="module")
def servers(runs):
    """verb -> the base URL of ``rnnkit serve`` on that form's run."""
    started, urls = [], {}
    for verb, run in runs.items():
        srv = make_server(run, port=0, quiet=True)
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        started.append(srv)
        host, port = srv.server_address[:2]
        urls[verb] = f"http://{host}:{port}"
    yield urls
    for srv in started:
        srv.shutdown()
        srv.server_close()


def call(url: str, body=None) -> tuple[int, dict]:
    """(status, JSON) of a GET (body None) or a POST of ``body``."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_info_names_the_form_and_its_first_example(servers):
    status, info = call(servers["classify"] + "/api/info")
    assert status == 200 and info["task"] == "classify" and info["input"] == "text"
    assert info["example"] == "return if def"  # the first line of its training data
    status, info = call(servers["generate"] + "/api/info")
    assert info["task"] == "generate" and info["labels"] == ["en", "py"] and info["example"] == "en"


def test_predict_classify_gives_the_class_after_each_character(servers, runs):
    status, page = call(servers["classify"] + "/api/predict", {"text": "def f(x):"})
    assert status == 200 and page["task"] == "classify" and page["more"] == []
    form, model, _ = load_task(runs["classify"], "classify")
    p = form.probs(model, ["def f(x):"])[0]
    assert page["summary"] == f"{form.labels.labels[int(p.argmax())]} (p = {p.max():.2f})"
    assert page["strip"] == "classes" and len(page["top_p"]) == len("def f(x):")
    np.testing.assert_allclose(max(page["top_p"][-1]), p.max(), atol=6e-5)
    assert np.array(page["acts"]).shape == (1, 16, 9)  # (L, 2H, T): every step's states


def test_predict_tag_seq2seq_and_generate(servers, runs):
    status, page = call(servers["tag"] + "/api/predict", {"text": "the cat"})
    form, model, _ = load_task(runs["tag"], "tag")
    assert status == 200 and page["summary"] == form.predict_tags(model, ["the cat"])[0]
    status, page = call(servers["seq2seq"] + "/api/predict", {"text": "sat on"})
    form, model, _ = load_task(runs["seq2seq"], "seq2seq")
    assert status == 200 and page["more"][0]["summary"] == " ".join(
        form.decode(model, [form.src_vocab.encode("sat on")])[0]
    )
    # generate: temperature 0 is greedy; a seed repeats its sample
    form, model, _ = load_task(runs["generate"], "generate")
    status, page = call(servers["generate"] + "/api/predict", {"text": "py", "temperature": 0})
    (greedy,), _ = generator_greedy(model, np.array([1]), form.cfg.max_len)
    assert status == 200 and page["summary"] == form.vocab.decode(greedy)
    body = {"text": "en", "temperature": 1.5, "seed": 4}
    assert (
        call(servers["generate"] + "/api/predict", body)[1]
        == call(servers["generate"] + "/api/predict", body)[1]
    )


@pytest.mark.parametrize(
    "verb, body, status, needle",
    [
        ("classify", {"text": ""}, 400, "non-empty"),
        ("classify", {"text": "abc", "temperature": 0}, 400, "unknown fields"),
        ("classify", {"text": "x" * 2001}, 400, "limit"),
        ("classify", ["not", "an", "object"], 400, "JSON object"),
        ("generate", {"text": "fr"}, 400, "'en', 'py'"),
        ("generate", {"text": "en", "temperature": -1}, 400, "temperature"),
        ("seq2seq", {"text": 5}, 400, "non-empty string"),
    ],
)
def test_bad_predict_requests_get_4xx_with_a_json_message(servers, verb, body, status, needle):
    code, msg = call(servers[verb] + "/api/predict", body)
    assert code == status and needle in msg["error"], msg


def test_a_form_run_has_no_generate_route(servers):
    code, msg = call(servers["tag"] + "/api/generate", {"prime": "a"})
    assert code == 404 and "cannot POST" in msg["error"]


def test_browser_predicts_as_the_user_types(servers, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium_driver(tmp_path)
    try:
        driver.set_page_load_timeout(15)
        driver.get(servers["classify"] + "/")
        box = driver.find_element(By.ID, "input")
        assert box.get_attribute("value") == "return if def"  # the first training example
        box.clear()
        box.send_keys("def f(x):")
        WebDriverWait(driver, 15).until(
            lambda d: (
                d.execute_script("return document.body.dataset.predicted") == "def f(x):"
                or d.find_element(By.ID, "error").text
            )
        )
        assert driver.find_element(By.ID, "error").text == ""
        assert driver.find_element(By.ID, "prediction").text.split()[0] in ("en", "py")
        chars = driver.find_elements(By.CSS_SELECTOR, "#units span.c")
        assert "".join(c.text for c in chars).replace("\u00a0", " ") == "def f(x):"
        strips = driver.find_elements(By.CSS_SELECTOR, "#units span.strip")
        assert len(strips) == 9 and all(s.get_attribute("title").startswith(("en", "py")) for s in strips)
        colours = {c.value_of_css_property("background-color") for c in chars}
        assert len(colours) > 3  # coloured by a unit
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "serve_classify.png"))
    finally:
        driver.quit()
