"""The browser side of the XSS sweep of tests/browser/test_xss_corpus.py: every page of
tests/browser/xss_pages.py opened in Chromium on the hostile world, and what was found there."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.test import Client

from tests.browser.xss_pages import Visit, all_visits, route_of
from tests.browser.xss_payloads import TEMPLATE_PAYLOAD, payload
from tests.browser.xss_world import World

RECORDER = """
window.__xssHits = [];
window.__xss = function (tag) { window.__xssHits.push(String(tag)); };
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || ""));
});
"""

DOM_SCAN = r"""() => {
  const found = [];
  const urlAttrs = new Set(["href", "src", "action", "formaction", "data", "xlink:href", "poster", "background",
                            "ping", "srcdoc"]);
  for (const el of document.querySelectorAll("*")) {
    const tag = el.tagName.toLowerCase();
    for (const a of el.attributes) {
      const name = a.name.toLowerCase();
      if (name.startsWith("on")) found.push(`<${tag} ${name}="${a.value.slice(0, 80)}">`);
      if (urlAttrs.has(name) || name.endsWith(":href")) {
        const v = a.value.replace(/[\u0000-\u0020]/g, "").toLowerCase();
        if (/^(javascript|vbscript|data:text\/html)/.test(v) || name === "srcdoc")
          found.push(`<${tag} ${name}="${a.value.slice(0, 80)}">`);
      }
    }
    if (["iframe", "frame", "object", "embed", "base", "applet", "portal"].includes(tag)) found.push(`<${tag}>`);
    if (tag === "meta" && el.hasAttribute("http-equiv")) found.push(`<meta http-equiv>`);
    if (tag === "script") {
      const type = (el.getAttribute("type") || "").toLowerCase();
      if (!el.src && type !== "application/json") found.push(`inline <script>${el.textContent.slice(0, 80)}`);
      if (el.src && new URL(el.src).origin !== location.origin) found.push(`foreign <script src=${el.src}>`);
    }
    if (tag === "style" && /xss/.test(el.textContent)) found.push(`<style>${el.textContent.slice(0, 80)}`);
  }
  return found;
}"""


@dataclass
class Findings:
    visits: int = 0
    executions: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    canary: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)
    dom: list[str] = field(default_factory=list)
    template: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    routes: set[str] = field(default_factory=set)


def _session_cookie(user, url: str) -> dict:
    client = Client()
    client.force_login(user)
    return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": url}


# Fill a form's fields (CSS selector -> value) and submit it, bypassing the browser's own checks
# (maxlength, required, number inputs) as a hostile client would. A selector [name=x] that
# matches no field, or only buttons, becomes a hidden field (a submit() sends no button).
FORM_FILL = r"""(form, fill) => {
  for (const [selector, value] of Object.entries(fill)) {
    let field = form.querySelector(selector);
    if (!field || field.tagName === "BUTTON") {
      const name = (selector.match(/^\[name=([\w-]+)\]$/) || [])[1];
      if (!name) throw new Error("no field " + selector);
      form.querySelectorAll(`button[name="${name}"]`).forEach((b) => b.removeAttribute("name"));
      form.querySelectorAll(`input[type=hidden][name="${name}"]`).forEach((i) => i.remove());
      field = document.createElement("input");
      field.type = "hidden";
      field.name = name;
      form.appendChild(field);
    }
    if (field.tagName === "SELECT") field.add(new Option(value, value));
    field.value = value;
  }
  HTMLFormElement.prototype.submit.call(form);
}"""


def _act(page, visit: Visit, world: World):
    """Load the page, or do the action that renders it; returns the last main-frame response."""
    if visit.action == "annotate-submit":
        page.goto(visit.path)
        # Typed text with no values picked (a stored rating's are unpicked): the page comes back
        # with errors and the typed text.
        picked = page.locator("#rating-form input[type=radio]:checked")
        picked.evaluate_all("radios => radios.forEach(r => { r.checked = false; })")
        for box in page.locator("textarea").all():
            if box.is_enabled():
                box.fill(payload(6, "annotate.typed"))
        with page.expect_navigation() as nav:
            page.locator("#rating-form").evaluate("form => form.submit()")
        return nav.value
    if visit.action == "review-submit":
        page.goto(visit.path)
        form = page.locator("form.gold-form").first
        for box in form.locator("textarea").all():
            box.fill(payload(7, "review.typed"))
        form.locator("input[type=number]").first.fill("99999")  # out of range: refused, page re-rendered
        with page.expect_navigation() as nav:
            form.evaluate("form => form.submit()")
        return nav.value
    if visit.action == "login-fail":
        page.goto(visit.path)
        page.fill("input[name=username]", payload(4, "login.username"))
        page.fill("input[name=password]", "wrong")
        with page.expect_navigation() as nav:
            page.locator("form[action$='/login/'] button[type=submit]").click()
        return nav.value
    if visit.action == "form":
        page.goto(visit.path)
        with page.expect_navigation() as nav:
            page.locator(visit.form).first.evaluate(FORM_FILL, visit.fill)
        return nav.value
    if visit.action == "import-upload":
        # The page's script renders the preview, then the check's bad rows, from the job's JSON.
        response = page.goto(visit.path)
        section = page.locator("[data-import][data-kind=ratings]")
        section.locator("[data-role=file]").set_input_files(world.manage["upload"])
        section.locator("[data-role=preview]").wait_for(state="visible")
        section.locator("[data-role=check]").click()
        section.locator("[data-role=bad]").wait_for(state="visible")
        return response
    if visit.action == "builder-input":
        # The builder's live preview: the server's rendering of the cards, set as HTML.
        response = page.goto(visit.path)
        with page.expect_response(lambda r: urlsplit(r.url).path == "/rubrics/preview/") as answer:
            page.locator("#builder [data-role=title]").first.fill(payload(1, "builder.preview"))
        assert answer.value.status == 200, answer.value.status
        page.wait_for_timeout(300)
        return response
    return page.goto(visit.path)


def sweep(browser, live_server, world: World, *, bypass_csp: bool) -> Findings:
    findings = Findings()
    visits = all_visits(world)
    secrets = [settings.SECRET_KEY, *world.tokens]
    upper_tags = [
        t.upper() for tags in world.corpus.planted.values() for t in tags if t.endswith(f".{TEMPLATE_PAYLOAD}")
    ]
    contexts = {}
    try:
        for visit in visits:
            if visit.user not in contexts:
                context = browser.new_context(base_url=live_server.url, bypass_csp=bypass_csp)
                context.add_init_script(RECORDER)
                if visit.user is not None:
                    context.add_cookies([_session_cookie(world.users[visit.user], live_server.url)])
                context.route(
                    lambda url: urlsplit(url).path.startswith("/xss-canary/"),
                    lambda route: (findings.canary.append(route.request.url), route.fulfill(status=204)),
                )
                contexts[visit.user] = context
            if visit.content_type != "text/html":
                # Not a page: fetched, not rendered; it must never come back as HTML.
                answer = contexts[visit.user].request.get(visit.path, headers={"Accept": "text/html,*/*;q=0.8"})
                findings.visits += 1
                findings.routes.add(visit.route)
                kind = answer.headers.get("content-type", "")
                if answer.status not in (*visit.statuses, 204) or (
                    answer.status != 204 and not kind.startswith(visit.content_type)
                ):
                    findings.errors.append(f"{visit.path}: {answer.status} {kind}, expected {visit.content_type}")
                if answer.headers.get("x-content-type-options") != "nosniff":
                    findings.errors.append(f"{visit.path}: no nosniff")
                findings.secrets += [
                    f"{visit.path}: a secret or API token" for s in secrets if s and s in answer.text()
                ]
                continue
            page = contexts[visit.user].new_page()
            page.set_default_timeout(15_000)
            page.on("dialog", lambda d: (findings.dialogs.append(f"{d.message}"), d.dismiss()))
            console: list[str] = []
            page.on("console", lambda m, console=console: console.append(m.text))
            response = _act(page, visit, world)
            where = f"{visit.path} as {visit.user} {visit.action}".strip()
            findings.visits += 1
            status = response.status if response else None
            if status not in visit.statuses:
                findings.errors.append(f"{where}: status {status}, expected {visit.statuses}")
            findings.routes.add(visit.route)
            if visit.covers and response is not None:
                assert route_of(urlsplit(response.url).path) == visit.covers, (response.url, visit.covers)
            content_type = (response.headers.get("content-type") or "") if response else ""
            if not content_type.startswith(visit.content_type):
                findings.errors.append(f"{where}: {content_type}, expected {visit.content_type}")
            with contextlib.suppress(Exception):  # a page that keeps polling (judge run) never idles
                page.wait_for_load_state("networkidle", timeout=5_000)
            for hit in page.evaluate("window.__xssHits || []"):
                findings.executions.append(f"{where}: {hit}")
            findings.csp += [f"{where}: {v}" for v in page.evaluate("window.__cspViolations || []")]
            findings.csp += [f"{where}: {m}" for m in console if "content security policy" in m.lower()]
            findings.dom += [f"{where}: {d}" for d in page.evaluate(DOM_SCAN)]
            html = page.content()
            findings.template += [f"{where}: {t}" for t in upper_tags if t in html]
            findings.secrets += [f"{where}: a secret or API token" for s in secrets if s and s in html]
            page.close()
    finally:
        for context in contexts.values():
            context.close()
    return findings
