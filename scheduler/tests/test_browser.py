"""The status pages in a real browser: Playwright driving Debian's Chromium against a
live server, with a real `runscheduler` running the jobs.

A person's path through the hub: log in, start a strategy in admin, watch its runs
appear on /jobs/, press Run now, Pause and Resume. Screenshots of each step are saved
in `SCREENSHOT_DIR` (default `screenshots/`) for people to look at.
"""

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.utils import timezone

from scheduler.models import JobRun, RunRequest
from strategies.models import Strategy
from tests import support

pytestmark = pytest.mark.subprocess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BOUND_MS = 30_000
PASSWORD = "browser-test-password"


def _missing(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}, and CI=true: failing")
    pytest.skip(reason)


@pytest.fixture
def browser(monkeypatch):
    """Debian's Chromium under Playwright (never a downloaded browser)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -r requirements.txt)")
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        _missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    # Playwright's sync API keeps an event loop running in this thread; the test's own
    # ORM calls (fixtures, waits) are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # With Playwright's loop running, Django keys its connections by that context:
        # the test's queries used a connection of their own, closed here, or it would
        # keep the test database from being dropped.
        connections.close_all()


@pytest.fixture
def live_server(transactional_db, settings):
    """A live server of this test's own, over plain http, started after the settings
    below: Django's middleware reads them when the server starts, so pytest-django's
    session-wide server would keep whatever was set when it started first (production's
    https redirect, say)."""
    from pytest_django.live_server_helper import LiveServer

    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    settings.SECURE_HSTS_SECONDS = 0
    settings.SCHEDULER_PAGE_REFRESH = 1  # /jobs/ reloads itself every second
    server = LiveServer("localhost")
    yield server
    server.stop()


@pytest.fixture
def shots():
    folder = Path(os.environ.get("SCREENSHOT_DIR", Path(settings.BASE_DIR) / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)

    def save(page, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return save


def test_a_user_starts_a_strategy_watches_it_run_and_controls_it(
    browser, shots, live_server, scheduler_process, django_user_model
):
    from playwright.sync_api import expect

    django_user_model.objects.create_superuser("alice", "alice@example.com", PASSWORD)
    # Runs once when started, then hourly: every later run in this test is a Run now.
    strategy = Strategy.objects.create(name="Trend", symbol="BTC/USDT", interval_seconds=3600)
    scheduler_process()

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(BOUND_MS)
    page.goto(f"{live_server.url}/jobs/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/jobs/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("button:text('Log in')")
    expect(page.locator("h1")).to_have_text("Jobs")
    shots(page, "01-jobs-before")

    page.goto(f"{live_server.url}/admin/strategies/strategy/")
    page.check(f"input[name=_selected_action][value='{strategy.pk}']")
    page.select_option("select[name=action]", "start_strategies")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("1 strategy started.")
    shots(page, "02-admin-started")

    page.goto(f"{live_server.url}/jobs/")
    row = page.locator(f"tr[data-job='{strategy.job_id}']")
    # The page reloads itself; the first run shows up without anyone touching it.
    expect(row.locator(".runs-24h")).to_have_text("1", timeout=BOUND_MS)
    expect(row.locator(".last-run")).to_contain_text("succeeded")
    expect(row.locator(".state")).to_have_text("ok")
    shots(page, "03-jobs-first-run")

    # A Run now is the slot of the second it is pressed: press it after the first run's
    # second, or the two are the same slot (claimed once, as any slot).
    first = JobRun.objects.get(job_id=strategy.job_id)
    support.wait_until(
        lambda: (timezone.now() - first.scheduled_at).total_seconds() >= 1.5, 5, "a new second"
    )
    row.locator("a").first.click()
    expect(page.locator("h1")).to_contain_text(strategy.job_id)
    page.click("button:text('Run now')")
    expect(page.locator(".messages")).to_contain_text("will run now")
    request = RunRequest.objects.get(job_id=strategy.job_id)
    support.wait_until(
        lambda: JobRun.objects.filter(
            job_id=strategy.job_id, scheduled_at=request.slot, status=JobRun.SUCCEEDED
        ).exists(),
        BOUND_MS / 1000,
        "the Run now run",
    )
    page.reload()
    expect(page.locator("#runs tbody tr")).to_have_count(2)
    expect(page.locator("#timeline rect")).to_have_count(2)
    shots(page, "04-detail-after-run-now")

    page.click("button:text('Pause')")
    expect(page.locator(".messages")).to_contain_text("paused")
    expect(page.locator("#job-state")).to_have_text("paused")
    strategy.refresh_from_db()
    assert not strategy.is_active
    shots(page, "05-paused")

    page.click("button:text('Resume')")
    expect(page.locator(".messages")).to_contain_text("resumed")
    expect(page.locator("#job-state")).to_have_text("ok")
    strategy.refresh_from_db()
    assert strategy.is_active
    shots(page, "06-resumed")
    page.close()


CSP_LISTENER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def test_every_page_loads_under_the_content_security_policy_with_no_violation(
    browser, shots, live_server, django_user_model
):
    """Our pages and Django's admin, as a superuser sees them (every admin page there is
    to see): the policy forbids inline script and style, so any left would show here."""
    django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    strategy = Strategy.objects.create(name="Trend", symbol="BTC/USDT", interval_seconds=3600)
    strategy.start()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(BOUND_MS)
    page.add_init_script(CSP_LISTENER)
    refused = []
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and refused.append(message.text),
    )

    def visit(path: str) -> None:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("load")
        assert page.evaluate("window.__csp") == [], path

    visit("/accounts/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("button:text('Log in')")
    page.wait_for_url(f"{live_server.url}/jobs/")
    for path in (
        "/jobs/",
        f"/jobs/{strategy.job_id}/",
        "/jobs/health_check/",
        f"/strategies/{strategy.pk}/",
        "/admin/",
        "/admin/scheduler/schedule/",
        "/admin/scheduler/schedule/add/",
        "/admin/scheduler/jobrun/",
        "/admin/scheduler/apitoken/add/",
        "/admin/strategies/strategy/",
        f"/admin/strategies/strategy/{strategy.pk}/change/",
        "/admin/strategies/strategy/add/",
        "/admin/market_data/candle/",
        "/admin/market_data/exchange/",
        "/admin/django_celery_beat/periodictask/",
        "/admin/auth/user/",
    ):
        visit(path)
    shots(page, "07-admin-under-csp")
    assert refused == []
    page.close()


def test_an_operator_sees_a_dead_scheduler_a_refused_symbol_and_a_live_chart(
    browser, shots, live_server, django_user_model
):
    """No scheduler runs in this test: the banner says so and a job past its grace shows
    late. Admin refuses a symbol the exchange does not list, naming close ones. The chart
    reads values under the pointer and refreshes itself without a reload."""
    from datetime import timedelta

    from scheduler.models import Schedule
    from strategies import trading
    from strategies.models import PaperAccount

    django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    past = timezone.now().replace(microsecond=0) - timedelta(minutes=10)
    Schedule.objects.create(
        job_id="every_minute", task="health_check", interval_seconds=60, anchor=past
    )
    Schedule.objects.filter(job_id="every_minute").update(enabled_at=past)
    strategy = Strategy.objects.create(name="Trend", symbol="BTC/USDT", timeframe="1m")

    def first_run():
        # In a thread of its own: Playwright's event loop runs in this one, and a run
        # fetches candles through async code.
        try:
            trading.run(strategy)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(first_run).result(timeout=60)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(BOUND_MS)
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/jobs/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("button:text('Log in')")
    expect(page.locator("#no-scheduler")).to_contain_text("No scheduler is running")
    expect(page.locator("tr[data-job='every_minute'] .state")).to_have_text("late")
    shots(page, "08-no-scheduler-banner-and-late")

    page.goto(f"{live_server.url}/admin/strategies/strategy/add/")
    page.fill("#id_name", "Typo")
    page.fill("#id_symbol", "BTC/USTD")
    page.click("input[name=_save]")
    expect(page.locator(".errorlist")).to_contain_text(
        "simulated does not list BTC/USTD; did you mean BTC/USDT"
    )
    shots(page, "09-unknown-symbol-refused")

    page.goto(f"{live_server.url}/strategies/{strategy.pk}/")
    page.evaluate("window.__notReloaded = true")
    page.hover("#price-chart", position={"x": 640, "y": 150})
    expect(page.locator("#price-chart .readout")).to_contain_text("UTC · close ")
    shots(page, "10-chart-hover")
    # New figures reach the page by its own refresh (every second here), not a reload.
    PaperAccount.objects.filter(strategy=strategy).update(equity=12345.5)
    expect(page.locator("#live")).to_contain_text("12345.5", timeout=BOUND_MS)
    assert page.evaluate("window.__notReloaded") is True
    shots(page, "11-chart-refreshed")
    page.close()
