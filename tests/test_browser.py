"""The page at GET / in headless Chromium (Debian's chromium + chromium-driver): a person types a passenger, submits,
and sees the answer; bad input shows the error as text, never as HTML."""
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs chromium and chromium-driver (apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def answer(browser, before: str = "-") -> str:
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(browser, 20).until(lambda d: d.find_element("id", "answer").text not in ("", before))
    return browser.find_element("id", "answer").text


def test_type_a_passenger_and_see_the_answer(browser, api_server):
    from selenium.webdriver.support.ui import Select
    browser.get(api_server.url + "/")
    assert "transported" in browser.title.lower() or "spaceship" in browser.title.lower()
    browser.find_element("id", "PassengerId").send_keys("0013_01")
    Select(browser.find_element("id", "HomePlanet")).select_by_value("Europa")
    Select(browser.find_element("id", "CryoSleep")).select_by_value("true")
    browser.find_element("id", "Cabin").send_keys("B/3/S")
    browser.find_element("id", "Age").send_keys("27")
    browser.find_element("id", "Name").send_keys("<b>Nelly</b> Carsoning")
    browser.find_element("id", "predict").click()
    text = answer(browser)
    assert text.startswith("0013_01: ") and ("probability 0." in text or "probability 1." in text), text
    assert "transported" in text
    assert "model version" in browser.find_element("id", "details").text
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]]
    assert not severe, severe  # no script error, no Content-Security-Policy violation


def test_errors_are_shown_as_text(browser, api_server):
    browser.get(api_server.url + "/")
    browser.find_element("id", "PassengerId").send_keys("<img src=x onerror=alert(1)>")
    browser.find_element("id", "predict").click()
    text = answer(browser)
    assert text.startswith("Error 422") and "PassengerId" in browser.find_element("id", "details").text
    assert not browser.find_elements("css selector", "#answer img, #details img")  # shown as text, not HTML


def test_paste_csv(browser, api_server, trained_home):
    browser.get(api_server.url + "/")
    lines = (trained_home / "test.csv").read_text().splitlines()[:4]
    browser.execute_script("document.getElementById('csvtext').value = arguments[0];", "\n".join(lines) + "\n")
    browser.find_element("id", "predict-csv").click()
    assert answer(browser).startswith("Predictions (200)")
    details = browser.find_element("id", "details").text.splitlines()
    assert details[0] == "PassengerId,Transported" and len(details) == 4


def test_docs_render_from_local_files(browser, api_server):
    "Swagger UI at /docs, from the package's own files (no CDN), renders the served OpenAPI document."
    from selenium.webdriver.support.ui import WebDriverWait
    browser.get_log("browser")  # drop what earlier tests left (their 422s are network errors in the log)
    browser.get(api_server.url + "/docs")
    WebDriverWait(browser, 20).until(lambda d: d.find_elements("css selector", "#swagger-ui .info .title"))
    assert "spaceship-clf" in browser.find_element("css selector", "#swagger-ui .info .title").text
    assert browser.find_elements("css selector", "#operations-default-predict, [id*='predict']")
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]]
    assert not severe, severe
