"""The page in a real browser: headless Chromium driven by Selenium against a real `nlpseq serve`, one
panel per task, a screenshot of each saved (under the test's tmp dir, or $NLPSEQ_SCREENSHOTS).

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install chromium chromium-driver``) and
the ``selenium`` package; skipped with the reason where either is missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.serve.process import Server, request

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the test extra)")
BROWSER = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
DRIVER = shutil.which("chromedriver")
# slow: a server process and a browser process (pyproject's marker).
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(BROWSER is None or DRIVER is None,
                                 reason="no headless browser: install chromium and chromium-driver")]

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as shown  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("NLPSEQ_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def server(runs, tmp_path_factory: pytest.TempPathFactory):
    names = {"classification": "sentiment", "tagging": "ner", "translation": "translate", "lm": "lm"}
    args = [f"{names[task]}={run}" for task, run in runs.items()]
    with Server([*args, "--max-wait-ms", "2"], tmp_path_factory.mktemp("browser") / "server.log") as server:
        yield server


@pytest.fixture(scope="module")
def browser(server):
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1100,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def open_model(browser, server, name: str) -> WebDriverWait:
    browser.get(f"http://127.0.0.1:{server.port}/?model={name}")
    wait = WebDriverWait(browser, 30)
    wait.until(lambda b: b.find_element(By.ID, "model-task").text)
    assert Select(browser.find_element(By.ID, "model")).first_selected_option.text == name
    return wait


def predict(browser, text: str) -> None:
    box = browser.find_element(By.ID, "text")
    box.clear()
    box.send_keys(text)
    browser.find_element(By.ID, "predict").click()


def test_the_model_picker_lists_every_served_model(browser, server) -> None:
    open_model(browser, server, "sentiment")
    names = [o.text for o in Select(browser.find_element(By.ID, "model")).options]
    assert sorted(names) == ["lm", "ner", "sentiment", "translate"]


def test_sentiment_shows_a_probability_bar_per_label(browser, server, screenshots: Path) -> None:
    wait = open_model(browser, server, "sentiment")
    predict(browser, "the film was good")
    wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, ".bar.best")))
    labels = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".bar-row .name")]
    assert sorted(labels) == ["neg", "pos"]
    browser.save_screenshot(str(screenshots / "sentiment.png"))


def test_ner_highlights_entity_spans_in_the_text(browser, server, screenshots: Path) -> None:
    wait = open_model(browser, server, "ner")
    text = "the cat sat on a mat"
    expected = request(server.port, "POST", "/v1/models/ner/predict", {"inputs": [text]})[1]["outputs"][0]
    predict(browser, text)
    wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, ".tagged")))
    marks = browser.find_elements(By.CSS_SELECTOR, "mark.entity")
    assert [m.get_attribute("data-type") for m in marks] == [e["type"] for e in expected["entities"]]
    assert marks, "the tiny tagger finds the animal"
    assert browser.find_element(By.CSS_SELECTOR, ".tagged").text.replace("ANI", "").split() == text.split()
    browser.save_screenshot(str(screenshots / "ner.png"))


def test_translation_shows_n_best_and_an_attention_heatmap(browser, server, screenshots: Path) -> None:
    wait = open_model(browser, server, "translate")
    browser.find_element(By.ID, "option-beam_size").send_keys("3")
    browser.find_element(By.ID, "option-n_best").send_keys("2")
    browser.find_element(By.ID, "option-attention").click()
    predict(browser, "the cat sat")
    wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, ".heatmap td")))
    assert len(browser.find_elements(By.CSS_SELECTOR, ".nbest li")) == 2
    body = {"inputs": ["the cat sat"], "options": {"beam_size": 3, "n_best": 2, "attention": True}}
    expected = request(server.port, "POST", "/v1/models/translate/predict", body)[1]["outputs"][0]
    cells = browser.find_elements(By.CSS_SELECTOR, ".heatmap tbody td")
    assert len(cells) == sum(len(row) for row in expected["attention"])
    browser.save_screenshot(str(screenshots / "translation.png"))


def test_generation_streams_tokens_with_sampling_controls(browser, server, screenshots: Path) -> None:
    wait = open_model(browser, server, "lm")
    assert browser.find_element(By.ID, "generate-panel").is_displayed()
    browser.find_element(By.ID, "prompt").send_keys("the cat")
    for name, value in (("top_k", "5"), ("seed", "11"), ("max_new_tokens", "8")):
        field = browser.find_element(By.ID, name)
        field.clear()
        field.send_keys(value)
    browser.find_element(By.ID, "generate").click()
    wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, "#generated [data-done=true]")))
    options = {"temperature": 0.8, "top_p": 0.9, "top_k": 5, "seed": 11, "max_new_tokens": 8}
    body = {"prompt": "the cat", "options": options}
    expected = request(server.port, "POST", "/v1/models/lm/generate", body)
    text = browser.find_element(By.CSS_SELECTOR, "#generated [data-done=true]").text
    assert text.startswith("the cat") and expected[1]["outputs"][0]["text"] in text
    assert "seed 11" in browser.find_element(By.ID, "generate-status").text
    browser.save_screenshot(str(screenshots / "generation.png"))
