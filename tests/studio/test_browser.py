"""The studio in a real browser: headless Chromium (Debian's ``chromium`` and ``chromedriver``, driven by
Selenium) against the real server on a free port, through what an editor does: open the page, load the
example, edit a shot's mood, score, play the take, regenerate a range, download the MIDI.

Skips when the browser is missing on a developer's machine; fails under CI (``CI=true`` or
``DIFFBGM_REQUIRE_BROWSER=1``, set by ``.ci/run``), where ``make test`` installs it, so that CI can never
pass by skipping it.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import threading
import time

import pretty_midi
import pytest
from repo_paths import REPO_ROOT

from diffbgm.video.decode import probe_video

EXAMPLE = REPO_ROOT / "examples" / "demo.mp4"


def _missing() -> str | None:
    """Why the browser test cannot run here (``None``: it can)."""
    for module in ("fastapi", "uvicorn", "selenium"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (pip install -e '.[dev]')"
    for program in ("chromium", "chromedriver"):
        if shutil.which(program) is None:
            return f"{program} not found (apt-get install chromium chromium-driver, or make test as root)"
    return None


@pytest.fixture(scope="module")
def browser_ready() -> None:
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI", "").lower() in ("1", "true") or os.environ.get("DIFFBGM_REQUIRE_BROWSER") == "1":
            pytest.fail(f"the browser test must run in CI: {reason}")
        pytest.skip(reason)


@pytest.fixture
def server(browser_ready, tmp_path, pipeline):
    """The studio on a free port of 127.0.0.1, in a thread; yields its address."""
    import uvicorn

    from diffbgm.studio import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(lambda: pipeline, tmp_path / "work", example=EXAMPLE)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the studio did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def driver(browser_ready):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,1000",
                     "--mute-audio"):
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium")
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield browser
    browser.quit()


def test_an_editor_scores_the_example_in_the_browser(server, driver, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 120, poll_frequency=0.1)
    find = driver.find_element

    def shoot(name: str) -> None:
        driver.save_screenshot(str(tmp_path / f"{name}.png"))

    def job_ends(what: str) -> None:
        wait.until(lambda d: not find(By.ID, "score").get_attribute("disabled")
                   and "…" not in find(By.ID, "message").text)
        message = find(By.ID, "message")
        assert "error" not in message.get_attribute("class"), f"{what}: {message.text}"

    driver.get(server)
    wait.until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
    find(By.ID, "use-example").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#shots .shot"))
    job_ends("analysis")
    shots = driver.find_elements(By.CSS_SELECTOR, "#shots .shot")
    info = probe_video(EXAMPLE)
    assert len(shots) >= 3 and len(driver.find_elements(By.CSS_SELECTOR, "#shots .cut")) == len(shots) - 1
    assert all(shot.find_elements(By.CSS_SELECTOR, ".chip") for shot in shots)
    assert EXAMPLE.name in find(By.ID, "video-meta").text
    shoot("1-example")

    shots[1].click()
    mood = find(By.ID, "shot-mood")
    mood.clear()
    mood.send_keys("tense, dark")
    find(By.ID, "shot-mood-apply").click()
    edited = driver.find_elements(By.CSS_SELECTOR, "#shots .shot")[1].find_elements(By.CSS_SELECTOR, ".chip.edited")
    assert [chip.text for chip in edited] == ["tense", "dark"]

    find(By.ID, "opt-seed").send_keys("11")
    find(By.ID, "score").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#progress .stage-row"))
    shoot("2-scoring")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#takes .take"))
    job_ends("scoring")
    assert "seed 11" in find(By.CSS_SELECTOR, "#takes .take").text
    duration = wait.until(lambda d: d.execute_script(
        "const v = document.getElementById('player'); return v.readyState >= 1 && v.src.includes('take1') && v.duration"))
    assert abs(duration - info.duration_s) <= 1.0 / info.fps, (duration, info.duration_s)
    wait.until(lambda d: d.execute_script("return document.getElementById('player').readyState >= 2"))
    shoot("3-take")

    lanes = find(By.ID, "curves")
    width = lanes.size["width"]
    (ActionChains(driver).move_to_element_with_offset(lanes, -width // 2 + int(0.3 * width), 0).click_and_hold()
     .move_by_offset(int(0.25 * width), 0).release().perform())
    assert "Selected" in find(By.ID, "selection-label").text
    find(By.ID, "regenerate").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#takes .take")) == 2)
    job_ends("regeneration")
    current = find(By.CSS_SELECTOR, "#takes .take.current")
    assert "from take 1" in current.text
    driver.execute_script("const v = document.getElementById('player'); v.currentTime = v.duration * 0.36;")
    wait.until(lambda d: d.execute_script("const v = document.getElementById('player'); "
                                          "return !v.seeking && v.readyState >= 3"))
    time.sleep(1.5)  # the player's buffering spinner fades out
    shoot("4-regenerated")

    import httpx

    from diffbgm.studio.sessions import COOKIE

    link = current.find_element(By.CSS_SELECTOR, "a[data-kind=midi]").get_attribute("href")
    cookie = driver.get_cookie(COOKIE)["value"]
    response = httpx.get(link, cookies={COOKIE: cookie})
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    midi = pretty_midi.PrettyMIDI(io.BytesIO(response.content))
    notes = [note for instrument in midi.instruments for note in instrument.notes]
    assert notes and max(note.end for note in notes) <= info.duration_s + 0.05
    assert httpx.get(link).status_code == 404  # without the session's cookie: nothing
