"""/ops/ in a real headless Chromium: log in through the admin, read the model, see the charts.

Needs Debian's `chromium` and `chromium-driver` (.ci/run installs them). Without them the
tests skip on a developer's machine and fail in CI, where a missing browser is a broken setup.
"""

from __future__ import annotations

import os

import pytest

from app.recommendations.cleaner_scores import cleaner_scores_refresh
from app.recommendations.models import ModelVersion
from app.synthetic.generator import training_data_clear, training_data_generate
from tests import factories as f
from tests.app.ops import builders as b
from tests.support import ROOT
from workers.training.train import model_train

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
VERSION = "2026.05.01"
SCREENSHOT = ROOT / "var" / "ops.png"

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} or {CHROMEDRIVER} is missing in CI: .ci/run installs chromium and chromium-driver")
        pytest.skip("chromium/chromedriver not installed: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def trained(django_db_setup, django_db_blocker, tmp_path_factory):
    """A small model trained on a generated marketplace; the files outlive the rows."""
    directory = tmp_path_factory.mktemp("ops-models")
    with django_db_blocker.unblock():
        training_data_generate(jobs=800, cleaners=40, clients=100, seed=11)
        cleaner_scores_refresh()
        report = model_train(version=VERSION, models_dir=directory, seed=11, activate=False)
        training_data_clear()
    return {"directory": directory, "report": report}


@pytest.fixture
def page_data(trained, settings):
    """The trained version active in the registry (which wins over any published pointer), a
    retrain it beat, and a few days of use."""
    settings.RECOMMENDATION_MODELS_DIR = trained["directory"]
    evaluation = trained["report"].evaluation
    ModelVersion.objects.create(
        version=VERSION,
        status=ModelVersion.Status.ACTIVE,
        metrics=evaluation,
        decision={"verdict": "promote", "reason": "no champion: pairwise accuracy beats rule-based"},
    )
    ModelVersion.objects.create(
        version="2026.06.01",
        status=ModelVersion.Status.REJECTED,
        metrics=evaluation,
        decision={"verdict": "reject", "reason": f"worse than {VERSION}: ndcg_at_5 dropped"},
    )
    b.recommendations_over_days(days=6)
    return trained


def _log_in(driver, base: str, username: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base}/ops/")
    assert "/admin/login/" in driver.current_url
    driver.find_element(By.ID, "id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys("pw")
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # The click returns before the browser has followed the login's redirect: wait for it, or
    # the test reads the old page and the server may still be saving the session at teardown.
    WebDriverWait(driver, 15).until(lambda d: "/admin/login/" not in d.current_url)
    WebDriverWait(driver, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _points(driver, chart: str) -> list[int]:
    from selenium.webdriver.common.by import By

    lines = driver.find_elements(By.CSS_SELECTOR, f"svg#chart-{chart} polyline")
    return [len(line.get_attribute("points").split()) for line in lines]


def test_it_shows_an_operator_the_model_and_its_charts(browser, live_server, page_data) -> None:
    from selenium.webdriver.common.by import By

    operator = f.operator()
    _log_in(browser, live_server.url, operator.username)
    assert browser.current_url == f"{live_server.url}/ops/"
    assert browser.find_element(By.ID, "active-version").text == VERSION

    epochs = len(page_data["report"].history)
    assert epochs >= 3
    assert _points(browser, "loss") == [epochs, epochs], "train and validation loss, one point per epoch"
    assert _points(browser, "alpha") == [epochs]
    assert _points(browser, "acceptance") == [6, 6, 6], "three rates, one point per day"
    for chart in ("loss", "alpha", "acceptance"):
        svg = browser.find_element(By.ID, f"chart-{chart}")
        assert svg.size["width"] > 300 and svg.size["height"] > 100, f"{chart} is not drawn at a readable size"

    ranking = browser.find_element(By.ID, "ranking").text
    for scorer in ("neural", "ensemble", "rule_based", "random"):
        assert scorer in ranking
    retrains = browser.find_element(By.ID, "retrains").text
    assert "2026.06.01" in retrains and "ndcg_at_5 dropped" in retrains
    assert "A/B testing is off" in browser.find_element(By.ID, "ab").text
    assert browser.find_element(By.LINK_TEXT, "Flower").get_attribute("href") == "http://127.0.0.1:5555/"

    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, height + 120)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))
    browser.set_window_size(1280, 1000)


def test_it_refuses_a_client(browser, live_server) -> None:
    from django.test import Client
    from selenium.webdriver.common.by import By

    user = f.user()  # a client: the admin login would not take them, so the session is made here
    session = Client()
    session.force_login(user)
    browser.get(f"{live_server.url}/admin/login/")
    browser.delete_all_cookies()
    browser.add_cookie({"name": "sessionid", "value": session.cookies["sessionid"].value, "path": "/"})
    browser.get(f"{live_server.url}/ops/")
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "403 Forbidden" in body and user.username in body
    assert not browser.find_elements(By.CSS_SELECTOR, "svg.chart")


def test_it_sends_an_anonymous_visitor_to_the_login(browser, live_server) -> None:
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(f"{live_server.url}/ops/")
    assert browser.current_url == f"{live_server.url}/admin/login/?next=/ops/"
    assert browser.find_element(By.ID, "id_username")
