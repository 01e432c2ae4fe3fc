"""The web app of ``litlab serve`` in a real browser: a real server process on a free port,
driven by Playwright in Debian's Chromium (no browser download).

Without /usr/bin/chromium the tests are skipped, unless ``LITLAB_REQUIRE_BROWSER=1`` (CI sets
it), which makes a missing browser a failure. Screenshots go to each test's ``tmp_path`` and,
when ``LITLAB_SCREENSHOTS`` names a folder, there too.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 30_000  # one answer of a tiny model on a busy 2-core CPU
MISSING = f"{CHROMIUM} is missing (apt-get install chromium)"
REQUIRED = os.environ.get("LITLAB_REQUIRE_BROWSER") == "1"

if not CHROMIUM.exists() and not REQUIRED:  # skip before the registry is trained for nothing
    pytest.skip(MISSING, allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


@pytest.fixture(scope="module")
def server(serve_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``litlab serve`` as a subprocess; its base URL once /health answers."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("serve_log") / "serve.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "LITLAB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "litlab.common.commands", "serve", "--root", str(serve_registry),
           "--port", str(port)]  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"litlab serve exited ({proc.returncode}):\n{log_path.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"litlab serve did not answer /health in 60 s:\n{log_path.read_text()}")
            try:
                if json.loads(_get(f"{url}/health"))["status"] == "ok":
                    break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        pytest.fail(f"LITLAB_REQUIRE_BROWSER=1 but {MISSING}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def classes(server: str) -> dict[str, list[str]]:
    """Each classifier's classes, as the API lists them."""
    return {m["name"]: m["classes"] for m in json.loads(_get(f"{server}/models")) if m["classes"]}


def _open(browser, server: str, viewport: dict = DESKTOP, **kw):
    page = browser.new_page(viewport=viewport, **kw)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{server}/ui")
    page.wait_for_selector("#tabs [role=tab]")
    return page


def _screenshot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=tmp_path / f"{name}.png", full_page=True)
    if folder := os.environ.get("LITLAB_SCREENSHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=Path(folder) / f"{name}.png", full_page=True)


def test_image_tab_shows_a_digit_class_with_its_probability(browser, server, classes, tmp_path):
    digit = tmp_path / "digit.png"
    Image.new("L", (28, 28), 0).save(digit)
    page = _open(browser, server)
    page.locator("#image-input input[type=file]").set_input_files(digit)
    page.click("#image-run")
    page.wait_for_selector("#image-gradcam img")
    top = page.locator("#image-top [data-testid=label-output-value]").inner_text()
    # the class the API gives for the same file, with its probability in per cent
    files = {"file": ("digit.png", digit.read_bytes(), "image/png")}
    r = httpx.post(f"{server}/classify", files=files, data={"model": "mnist-cnn"}, timeout=30)
    best = r.json()["top"][0]
    assert best["label"] in classes["mnist-cnn"] and top.strip() == best["label"]
    shown = [int(p) for p in re.findall(r"(\d+)%", page.locator("#image-top").inner_text())]
    assert shown and abs(shown[0] - 100 * best["prob"]) <= 1, (shown, best)
    _screenshot(page, tmp_path, "desktop-image")


def test_sentiment_tab_shows_a_label_and_coloured_words(browser, server, tmp_path):
    page = _open(browser, server)
    page.get_by_role("tab", name="Sentiment").click()
    page.fill("#sentiment-text textarea", "A wonderful, moving film. The acting was great.")
    page.click("#sentiment-run")
    words = page.locator("#sentiment-words span[title]")
    words.first.wait_for()
    label = page.locator("#sentiment-label [data-testid=label-output-value]").inner_text()
    body = {"model": "imdb-bilstm", "text": "A wonderful, moving film. The acting was great."}
    expected = httpx.post(f"{server}/sentiment", json=body, timeout=30).json()["label"]
    assert label.strip() == expected  # the API's label for the same text
    assert "wonderful," in [w.strip() for w in words.all_inner_texts()]  # whole words
    assert "rgba(" in words.first.get_attribute("style")  # coloured by its attribution
    assert page.locator("#sentiment-warning").count() == 0  # the model's own language
    _screenshot(page, tmp_path, "desktop-sentiment")


def test_a_korean_review_for_the_english_model_warns_and_shows_whole_syllables(
    browser, server, tmp_path
):
    page = _open(browser, server)
    page.get_by_role("tab", name="Sentiment").click()
    page.fill("#sentiment-text textarea", "정말 재미있는 영화였어요. 배우들의 연기가 훌륭했다.")
    page.click("#sentiment-run")
    warning = page.locator("#sentiment-warning")
    warning.wait_for()
    assert "English" in warning.inner_text() and "nsmc-bilstm" in warning.inner_text()
    words = [w.strip() for w in page.locator("#sentiment-words span[title]").all_inner_texts()]
    assert words[:2] == ["정말", "재미있는"] and not any("\ufffd" in w for w in words)
    _screenshot(page, tmp_path, "desktop-sentiment-warning")


def test_a_bad_input_shows_its_message_not_a_traceback(browser, server):
    page = _open(browser, server)
    page.get_by_role("tab", name="Sentiment").click()
    page.fill("#sentiment-text textarea", "   ")
    page.click("#sentiment-run")
    toast = page.locator(".toast-body").first
    toast.wait_for()
    assert "the text is empty" in toast.inner_text()
    assert "Traceback" not in page.content()


# every length the output box shows, sampled each 10 ms
WATCH_LENGTHS = """() => { window.lengths = [];
  setInterval(() => { const n = document.querySelector('#generate-output textarea').value.length;
    if (n && window.lengths.at(-1) !== n) window.lengths.push(n); }, 10); }"""


def test_generate_tab_streams_text_into_the_output(browser, server, tmp_path):
    page = _open(browser, server)
    page.get_by_role("tab", name="Generate").click()
    # the first model in the list is ko-chat: its example prompt is its bot's name
    assert page.locator("#generate-prompt textarea").input_value() == "챗봇:"
    _choose(page, "generate-model", "shakespeare-gpt")  # characters, so 300 tokens = 300 chars
    page.wait_for_function("document.querySelector('#generate-prompt textarea').value === 'ROMEO:'")
    page.fill("#generate-max-new-tokens input[type=number]", "300")
    page.evaluate(WATCH_LENGTHS)
    page.click("#generate-run")
    # the tiny model's characters come in one at a time: the box grows, in more than one step
    page.wait_for_function("window.lengths.at(-1) === 300")
    assert len(page.evaluate("window.lengths")) > 1
    assert page.locator("#generate-output textarea").input_value().strip()
    _screenshot(page, tmp_path, "desktop-generate")


def test_chat_tab_answers_a_message(browser, server, tmp_path):
    page = _open(browser, server)
    page.get_by_role("tab", name="Chat").click()
    _choose(page, "chat-model", "shakespeare-chat")  # the first in the list is ko-chat
    # the tiny test model's vocabulary has no Y, so speak as JULIET
    page.fill("#chat-user input, #chat-user textarea", "JULIET")
    page.fill("#chat-message textarea", "Good morrow!")
    page.click("#chat-send")
    page.locator("#chat-box [data-testid=user]").first.wait_for()
    bot = page.locator("#chat-box [data-testid=bot]").first
    bot.wait_for()
    page.wait_for_function(
        "[...document.querySelectorAll('#chat-box [data-testid=bot]')]"
        ".some(m => m.innerText.trim() && m.innerText.trim() !== '…')"
    )
    assert page.locator("#chat-box [data-testid=user]").first.inner_text() == "Good morrow!"
    # the app's defaults (ROMEO answers, 300 tokens, seed 0 on the first turn): the API's reply
    body = {"model": "shakespeare-chat", "message": "Good morrow!", "user": "JULIET",
            "bot": "ROMEO", "max_new_tokens": 300}  # fmt: skip
    expected = httpx.post(f"{server}/chat", json=body, timeout=60).text.strip()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:  # the reply streams in; wait until it is whole (or show what differs)
        page.wait_for_function(
            "t => [...document.querySelectorAll('#chat-box [data-testid=bot]')]"
            ".some(m => m.innerText.trim() === t)", arg=expected, timeout=10_000,
        )  # fmt: skip
    except PlaywrightTimeout:
        pass
    assert expected and bot.inner_text().strip() == expected
    _screenshot(page, tmp_path, "desktop-chat")


def _choose(page, elem_id: str, option: str) -> None:
    """Pick ``option`` in a Gradio dropdown (a filterable combobox)."""
    page.click(f"#{elem_id} input")
    page.get_by_role("option", name=option).click()
    page.wait_for_function(
        "([id, v]) => document.querySelector(`#${id} input`).value === v", arg=[elem_id, option]
    )


def test_chat_tab_talks_with_the_korean_model_in_hangul_under_its_own_names(
    browser, server, tmp_path
):
    page = _open(browser, server)
    page.get_by_role("tab", name="Chat").click()
    _choose(page, "chat-model", "ko-chat")
    page.fill("#chat-message textarea", "오늘 너무 힘들어")
    page.click("#chat-send")
    page.wait_for_function(
        "[...document.querySelectorAll('#chat-box [data-testid=bot]')]"
        ".some(m => m.innerText.trim() && m.innerText.trim() !== '…')"
    )
    assert page.locator("#chat-box [data-testid=user]").first.inner_text() == "오늘 너무 힘들어"
    # empty name boxes: the model's own names (사용자 / 챗봇), so the API's default reply
    body = {"model": "ko-chat", "message": "오늘 너무 힘들어", "max_new_tokens": 300}
    expected = httpx.post(f"{server}/chat", json=body, timeout=60).text.strip() or "(no reply)"
    page.wait_for_function(
        "t => [...document.querySelectorAll('#chat-box [data-testid=bot]')]"
        ".some(m => m.innerText.trim() === t)", arg=expected, timeout=10_000,
    )  # fmt: skip
    _screenshot(page, tmp_path, "desktop-chat-korean")


def test_audio_tab_classifies_an_uploaded_wav_and_shows_the_gradcam(browser, server, tmp_path):
    from audio_data import digit_tone, wav

    clip = tmp_path / "four.wav"
    clip.write_bytes(wav(digit_tone(4, 0.5, rate=16000), rate=16000))
    page = _open(browser, server)
    page.get_by_role("tab", name="Audio").click()
    page.locator("#audio-input input[type=file]").set_input_files(clip)
    page.locator("#audio-input audio, #audio-input [data-testid=waveform-Audio]").first.wait_for(
        state="attached"
    )
    page.click("#audio-run")
    page.wait_for_selector("#audio-gradcam img")
    top = page.locator("#audio-top [data-testid=label-output-value]").inner_text()
    # the digit the API gives for the same file, with its probability in per cent
    files = {"file": ("four.wav", clip.read_bytes(), "audio/wav")}
    r = httpx.post(f"{server}/classify/audio", files=files, data={"model": "fsdd-cnn"},
                   timeout=30)  # fmt: skip
    best = r.json()["top"][0]
    assert top.strip() == best["label"]
    shown = [int(p) for p in re.findall(r"(\d+)%", page.locator("#audio-top").inner_text())]
    assert shown and abs(shown[0] - 100 * best["prob"]) <= 1, (shown, best)
    _screenshot(page, tmp_path, "desktop-audio")


def test_phone_screen_has_tabs_and_no_horizontal_scroll(browser, server, tmp_path):
    page = _open(browser, server, PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    page.wait_for_selector("#image-input")
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner + 1
    tabs = page.locator("#tabs [role=tab]")
    assert [t.strip() for t in tabs.all_inner_texts()] == [
        "Image", "Sentiment", "Generate", "Chat", "Summarize", "Audio"]
    assert all(tab.is_visible() for tab in tabs.all())
    page.get_by_role("tab", name="Sentiment").click()
    assert page.locator("#sentiment-text textarea").is_visible()
    _screenshot(page, tmp_path, "phone")
