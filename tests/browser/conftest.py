"""Playwright against Debian's Chromium (``apt-get install chromium``) and pytest-django's live_server.

The browser is started once per session; each test gets a fresh context (cookies, localStorage).
"""

import os
import shutil
from pathlib import Path

import pytest
from django.test import Client

from annotation.services.items import items_import

CHROMIUM = os.environ.get("ACCORD_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

# live_server serves from a thread; the Playwright sync API runs an event loop in this one, so
# Django's async-safety check would refuse the ORM calls the tests make between page actions.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the dev environment
    sync_playwright = None


def pytest_collection_modifyitems(config, items):
    reason = None
    if sync_playwright is None:
        reason = "playwright is not installed (pip install playwright==1.65.2)"
    elif not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if reason:
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


# Per module, not per session: Playwright's sync API keeps an asyncio loop running in the main
# thread while it is open, which would break every later test that calls asyncio.run().
@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, live_server):
    """``open_page(user=None)``: a new tab, logged in as ``user`` when given (by session cookie)."""
    contexts = []

    def make(user=None):
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1440, "height": 900})
        contexts.append(context)
        if user is not None:
            client = Client()
            client.force_login(user)
            context.add_cookies(
                [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
            )
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.dialogs = []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        return page

    yield make
    for context in contexts:
        context.close()


GUIDELINES = """## How to rate

* Read the **whole** answer before you rate it.
* A single false claim makes *Correct* false.
* Explain every helpfulness score in a sentence.
"""

RICH_ITEMS = [
    {
        "external_id": "sql-count",
        "data": {
            "prompt": "Give me a SQL query that counts the orders placed in 2025, per customer.",
            "response": (
                "Group by customer and filter on the order date:\n\n"
                "```sql\nSELECT customer_id, COUNT(*) AS orders\nFROM orders\n"
                "WHERE placed_at >= '2025-01-01' AND placed_at < '2026-01-01'\n"
                "GROUP BY customer_id\nORDER BY orders DESC;\n```\n\n"
                "Use a half-open range so that timestamps on **31 December** are counted."
            ),
        },
    },
    {
        "external_id": "chat-venv",
        "data": {
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "My build fails with `ModuleNotFoundError: numpy`."},
                {"role": "assistant", "content": "Install it into the active environment: `pip install numpy`."},
            ]
        },
    },
    {
        "external_id": "agent-fix",
        "data": {
            "instruction": "Make the failing test pass.",
            "trace": [
                {"kind": "thought", "content": "Run the tests first to see what fails."},
                {"kind": "tool_call", "name": "bash", "args": {"cmd": "pytest -q"}},
                {"kind": "tool_output", "content": "F.\nE   assert add(2, 2) == 4\n1 failed, 1 passed"},
            ],
            "solution": "def add(a, b):\n    return a + b\n",
        },
    },
]


@pytest.fixture
def rich_items(project):
    project.guidelines = GUIDELINES
    project.save(update_fields=["guidelines"])
    items_import(project=project, rows=RICH_ITEMS)
    return list(project.items.order_by("id"))


@pytest.fixture
def screenshots():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
