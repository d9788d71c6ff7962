"""The dashboard's pages over HTTP: who may see them, the login form's CSRF check, the cookie's
attributes, the headers that keep pages private and scripts cached."""

import re

import httpx
from hypothesis import given
from hypothesis import strategies as st

from tests.serving.conftest import USER_KEY


def _client(server, key=None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60, follow_redirects=False)


def _login_token(client):
    page = client.get("/dashboard/login")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_without_a_key_a_page_shows_no_data(dashboard_server, world):
    with _client(dashboard_server) as c:
        for path in ("/dashboard", "/dashboard/nps", "/dashboard/list", "/dashboard/model"):
            r = c.get(path, params={"as_of": world.as_of.isoformat()})
            assert r.status_code == 303 and r.headers["location"].startswith("/dashboard/login")
            assert "C0" not in r.text and "nps-detractor" not in r.text
    with _client(dashboard_server, "not-a-key") as c:
        r = c.get("/dashboard/nps")
        assert r.status_code == 401 and "not-a-key" not in r.text


def test_pages_are_private_and_scripts_cached_for_a_year(dashboard_server, world):
    with _client(dashboard_server, USER_KEY) as c:
        page = c.get("/dashboard/list", params={"as_of": world.as_of.isoformat()})
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert "default-src 'self'" in page.headers["content-security-policy"]
        scripts = re.findall(r'<script src="([^"]+)"', page.text)
        assert len(scripts) == 2 and all(s.startswith("/dashboard/static/") for s in scripts)
        assert "http" not in " ".join(scripts)
        for src in scripts:
            r = c.get(src)
            assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
            assert "max-age=31536000" in r.headers["cache-control"]
        chart = next(s for s in scripts if "chart.umd" in s)
        assert b"Chart.js v4.6.1" in c.get(chart).content
        assert c.get(chart.replace(chart.split("/")[3], "0" * 12)).status_code == 404
        assert c.get("/dashboard/nps", params={"period": "decade"}).status_code == 422


def test_the_login_form_needs_its_csrf_token(dashboard_server):
    with _client(dashboard_server) as c:
        token = _login_token(c)
        cookie = c.cookies.get("nps_risk_login_csrf")
        assert cookie == token
        c.cookies.clear()  # another site's form: no cookie of ours
        r = c.post("/dashboard/login", data={"key": USER_KEY, "csrf_token": token})
        assert r.status_code == 403 and "nps_risk_session" not in r.headers.get("set-cookie", "")
    with _client(dashboard_server) as c:
        _login_token(c)
        r = c.post("/dashboard/login", data={"key": USER_KEY, "csrf_token": "guessed"})
        assert r.status_code == 403


def test_a_good_login_sets_a_strict_httponly_session_and_logout_needs_its_token(dashboard_server):
    with _client(dashboard_server) as c:
        token = _login_token(c)
        wrong = c.post("/dashboard/login", data={"key": "wrong-key-123", "csrf_token": token})
        assert wrong.status_code == 401 and "wrong-key-123" not in wrong.text
        token = _login_token(c)
        r = c.post(
            "/dashboard/login",
            data={"key": USER_KEY, "csrf_token": token, "next": "https://evil.example/"},
        )
        assert r.status_code == 303 and r.headers["location"] == "/dashboard"
        cookie = next(
            h for h in r.headers.get_list("set-cookie") if h.startswith("nps_risk_session=")
        )
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and USER_KEY not in cookie
        page = c.get("/dashboard/model")
        assert page.status_code == 200 and "nps-detractor" in page.text
        assert USER_KEY not in page.text
        assert c.post("/dashboard/logout", data={"csrf_token": "nope"}).status_code == 403
        logout = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        out = c.post("/dashboard/logout", data={"csrf_token": logout})
        assert out.status_code == 303
        assert c.get("/dashboard/model").status_code == 303  # signed out


def test_the_model_card_links_its_mlflow_run(dashboard_server):
    with _client(dashboard_server, USER_KEY) as c:
        page = c.get("/dashboard/model").text
    link = re.search(r'href="(http://127\.0\.0\.1:5000/#/experiments/\w+/runs/(\w+))"', page)
    assert link is not None, "no link to the run"
    assert f">{link.group(2)}</a>" in page  # the run id it names is the one it links


@given(st.text(max_size=60))
def test_after_login_only_a_dashboard_page_of_this_server(target):
    from serving.api.routes.dashboard import _safe_next

    landed = _safe_next(target)
    assert landed == "/dashboard" or (
        landed == target and target.startswith("/dashboard") and "//" not in target
    )
    assert _safe_next("//evil.example/dashboard") == "/dashboard"
    assert _safe_next("/dashboard/list?as_of=2026-09-08") == "/dashboard/list?as_of=2026-09-08"
