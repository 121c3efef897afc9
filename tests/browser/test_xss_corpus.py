"""Stored and reflected XSS: a corpus of hostile payloads in every field a user or a model can write,
and every page of the site rendered in headless Chromium.

Each payload calls ``window.__xss(tag)`` (defined by an init script, so calls are counted even on
pages that have no script of their own), opens a dialog, or loads ``/xss-canary/<tag>`` (counted
by a route handler); the tag names the field and the payload, so a finding says where it came
from. Every page can be checked twice (`make xss`; `make test` runs the second only): with the
Content-Security-Policy enforced (a payload that
reached the DOM as markup shows up as a CSP violation) and with it bypassed (the escaping and the
Markdown sanitiser must hold on their own). Each page's DOM is also searched for what escaping
must never let through: ``on*`` attributes, ``javascript:`` / ``data:text/html`` URLs, inline
scripts, frames, objects, ``<base>`` and ``<meta http-equiv>``.

The sweep is complete by construction: ``test_the_sweep_covers_every_page_of_the_urlconf`` walks
``django.urls.get_resolver()`` and fails on any route the sweep neither visits nor lists in
``NOT_PAGES`` with a reason.

The pieces: the payloads in tests/browser/xss_payloads.py, the hostile world in xss_world.py, the
pages visited (and NOT_PAGES) in xss_pages.py, the browser side of the sweep in xss_sweep.py.
"""

from __future__ import annotations

import os

import pytest
from django.test import Client

from tests.browser.xss_pages import NOT_PAGES, all_routes, all_visits
from tests.browser.xss_payloads import PAYLOADS
from tests.browser.xss_sweep import sweep
from tests.browser.xss_world import world_build

pytestmark = [pytest.mark.browser]

# Each sweep takes minutes, so `make test` runs one: with the CSP bypassed, escaping and nh3 must
# hold alone. `make xss` (ACCORD_XSS_CSP_MODES=enforced,bypassed) adds the sweep under the policy.
CSP_MODES = [m for m in os.environ.get("ACCORD_XSS_CSP_MODES", "bypassed").split(",") if m]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("csp", CSP_MODES)
def test_the_xss_corpus_executes_nothing_on_any_page(browser, live_server, csp, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    world = world_build()
    findings = sweep(browser, live_server, world, bypass_csp=csp == "bypassed")
    report = (
        f"XSS sweep (CSP {csp}): {len(PAYLOADS)} payloads, {len(world.corpus.planted)} fields, "
        f"{world.corpus.count} plantings, {findings.visits} page visits, {len(findings.routes)} routes; "
        f"executions {len(findings.executions)}, dialogs {len(findings.dialogs)}, canary loads "
        f"{len(findings.canary)}, CSP violations {len(findings.csp)}, DOM findings {len(findings.dom)}"
    )
    print(report)
    for name in ("csp", "dom"):
        for line in getattr(findings, name):
            print(name, line[:300])
    assert findings.errors == [], findings.errors
    assert findings.executions == [], findings.executions
    assert findings.dialogs == [], findings.dialogs
    assert findings.canary == [], findings.canary
    assert findings.csp == [], findings.csp
    assert findings.dom == [], findings.dom
    assert findings.template == [], "rendered as a template: " + repr(findings.template)
    assert findings.secrets == [], findings.secrets


@pytest.mark.django_db
def test_the_sweep_covers_every_page_of_the_urlconf(settings, tmp_path):
    """Fails when a route exists that the sweep neither visits nor lists in NOT_PAGES."""
    settings.VAR_DIR = tmp_path
    world = world_build()
    visited = {v.route for v in all_visits(world)}
    routes = set(all_routes())
    missing = sorted(routes - visited - set(NOT_PAGES))
    assert missing == [], (
        f"pages the XSS sweep does not visit (add them to it, or to NOT_PAGES with a reason): {missing}"
    )
    stale = sorted(set(NOT_PAGES) - routes)
    assert stale == [], f"NOT_PAGES lists routes that no longer exist: {stale}"


@pytest.mark.django_db
def test_what_is_not_a_page_is_never_served_as_html(settings, tmp_path):
    """The routes left out of the browser sweep answer with a non-HTML type and nosniff, so a
    browser never renders hostile data from them as a page."""
    settings.VAR_DIR = tmp_path
    world = world_build()
    client = Client()
    client.force_login(world.users["staff"])
    for path in (
        "/api/schema/",
        f"/api/v1/projects/{world.tasks.pk}/export/?format=jsonl",
        f"/api/v1/projects/{world.tasks.pk}/export/?format=csv",
        "/admin/jsi18n/",
    ):
        response = client.get(path, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
        assert response.status_code == 200, path
        assert "text/html" not in response["Content-Type"], (path, response["Content-Type"])
        assert response["X-Content-Type-Options"] == "nosniff", path
