"""Every view in headless Chromium against the real server: it loads, logs no console error,
asks nothing of any host but 127.0.0.1, draws its charts; a screenshot of each is kept in
outputs/dashboard-tests/. Then a person's way in: the login form, its session cookie, and out."""

from pathlib import Path

import pytest

from serving.screenshots import browse
from tests.serving.conftest import USER_KEY

OUT = Path(__file__).resolve().parents[3] / "outputs" / "dashboard-tests"
CHARTS = {"nps": 4, "loop": 2, "list": 1, "impact": 1, "themes": 0, "drivers": 0, "model": 0}
SAYS = {
    "nps": "By segment",
    "loop": "Closing the loop, by team",
    "list": "customers to call on 2026-09-07",
    "impact": "Detractor rate, control",
    "themes": "not computed yet",
    "drivers": "not computed yet",
    "model": "MLflow run",
}


@pytest.fixture(scope="module")
def visits(chromium, world, dashboard_server):
    return {v.view: v for v in browse(dashboard_server.url, USER_KEY, world.as_of, OUT)}


def test_every_view_loads_without_console_errors_and_stays_on_this_server(visits, dashboard_server):
    assert set(visits) == set(CHARTS)
    for view, visit in visits.items():
        assert visit.status == 200, view
        assert visit.console_errors == [], (view, visit.console_errors)
        assert visit.requests, view
        outside = [u for u in visit.requests if not u.startswith(dashboard_server.url + "/")]
        assert outside == [], (view, outside)
        assert dashboard_server.url.startswith("http://127.0.0.1:")
        assert SAYS[view] in visit.text, view
        assert USER_KEY not in visit.text


def test_every_chart_is_drawn(visits):
    for view, visit in visits.items():
        assert visit.charts_drawn == CHARTS[view], view
        assert len(visit.canvas_pixels) == CHARTS[view], view
        assert all(pixels > 1000 for pixels in visit.canvas_pixels), (view, visit.canvas_pixels)


def test_a_screenshot_of_each_view_is_kept(visits):
    for view, visit in visits.items():
        assert visit.screenshot == OUT / f"{view}.png"
        assert visit.screenshot.stat().st_size > 10_000, view


def test_a_person_signs_in_with_the_form_and_out_again(chromium, world, dashboard_server):
    from playwright.sync_api import sync_playwright

    page_url = f"{dashboard_server.url}/dashboard/loop?as_of={world.as_of.isoformat()}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)
        context = browser.new_context()
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(page_url)
        assert "/dashboard/login" in page.url
        assert "Closing the loop" not in page.content()  # no key: no data
        page.fill("#key", "not-the-key")
        page.click("button[type=submit]")
        assert "Unknown API key" in page.content() and "not-the-key" not in page.content()
        page.fill("#key", USER_KEY)
        page.click("button[type=submit]")
        page.wait_for_url("**/dashboard/loop*")
        assert "Closing the loop, by team" in page.content()
        assert USER_KEY not in page.content()
        (session,) = [c for c in context.cookies() if c["name"] == "nps_risk_session"]
        assert session["httpOnly"] and session["sameSite"] == "Strict"
        assert USER_KEY not in session["value"]
        assert page.evaluate("document.cookie") == ""  # HttpOnly: no script reads it
        page.click("nav form button")
        page.wait_for_url("**/dashboard/login")
        page.goto(page_url)
        assert "/dashboard/login" in page.url
        assert not [e for e in errors if "401" not in e]  # the wrong key's form answers 401
        browser.close()
