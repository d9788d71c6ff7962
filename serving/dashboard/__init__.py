"""The dashboard for CX managers: what each view shows (pure functions from figures to a page's
context and chart specs), where its figures come from (one adapter per view), the login
session and CSRF tokens, and the vendored chart library (Chart.js, served by our own route).

The templates live with the house templates (``nps_core/pages/templates/dashboard``); the
HTTP side (routes, auth, caching) is ``serving.api.routes.dashboard``.
"""
