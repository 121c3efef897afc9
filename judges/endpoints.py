"""Where a judge's calls may go and with which key: the operator's settings, checked when a judge
is saved, when a run starts and on the worker before the first call.

Two settings (docs/security.md):

- ``JUDGES_ALLOWED_HOSTS`` (``ACCORD_JUDGE_HOSTS``): hosts, addresses or CIDR networks a
  ``base_url`` may point at, each optionally with ``:port`` to admit that port only.
- ``JUDGE_KEYS`` (``ACCORD_JUDGE_KEYS``): the environment variables a judge may name as its key,
  each bound to the hosts it may be sent to. A key goes nowhere else, so a project manager can
  neither read a server secret (``SECRET_KEY``, ``DATABASE_URL``) nor send a real key to a host
  of their choosing.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

from django.conf import settings

from config.judge_keys import host_and_port

# Where the SDKs send a request when a judge names no base_url.
PROVIDER_DEFAULT_URLS = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters no base URL needs; refusing them keeps a stored URL inert wherever it is shown.
_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f\"'<>\\^`{|}]")


def key_names() -> list[str]:
    """The key variables the operator allows, for forms and error messages."""
    return sorted(settings.JUDGE_KEYS)


def _entries(raw: list[str]) -> list[tuple[str, int | str | None]]:
    out = []
    for entry in raw:
        try:
            out.append(host_and_port(entry))
        except ValueError:
            continue  # malformed entries admit nothing
    return out


def _address(host: str):
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _host_allowed(host: str, port: int) -> bool:
    """``host`` (lower-case, no brackets) on ``port`` is named by JUDGES_ALLOWED_HOSTS, by name,
    address or network (with that port, when the entry names one), and is not a link-local
    address (metadata services live there)."""
    address = _address(host)
    if address is not None:
        mapped = getattr(address, "ipv4_mapped", None) or address
        if mapped.is_link_local or mapped.is_multicast or mapped.is_unspecified:
            return False
    for entry, entry_port in _entries(settings.JUDGES_ALLOWED_HOSTS):
        if entry_port not in (None, "*", port):
            continue
        entry = entry.strip("[]")
        if address is None:
            if host == entry:
                return True
            continue
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue  # a host name entry
    return False


def _parts(value: str) -> SplitResult:
    """The URL's parts, or ValueError with the message a manager sees."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or _URL_UNSAFE.search(value):
        raise ValueError("must be an http(s) URL such as https://api.openai.com/v1.")
    if len(value) > 500 or parts.username is not None or parts.password is not None:
        raise ValueError("must be an http(s) URL of at most 500 characters, without user:password@.")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ValueError("must be a base URL without ?query or #fragment.")
    return parts


def base_url_check(value: str) -> None:
    """Refuse a judge base URL the workers must not fetch: not http(s), carrying credentials, a
    query or a fragment, or on a host (and port) outside settings.JUDGES_ALLOWED_HOSTS. Host
    names are compared as written, never resolved, so an allowed name is one the operator chose
    (no DNS-rebinding game), and numeric spellings of an address that are not its canonical form
    (127.1, 0x7f.0.0.1, 2130706433) are names, hence refused unless listed."""
    parts = _parts(value)
    host = (parts.hostname or "").rstrip(".")
    port = parts.port or _DEFAULT_PORTS[parts.scheme]
    if not _host_allowed(host, port) and not _key_host_listed(host, parts.port):
        raise ValueError(
            f"host {host!r} (port {port}) is not allowed for judges: the server's workers would fetch it. An "
            "operator can allow it in ACCORD_JUDGE_HOSTS (link-local addresses are never allowed)."
        )


def _key_host_listed(host: str, port: int | None) -> bool:
    """A host an operator bound a key to is one they chose for the workers to call."""
    address = _address(host)
    if address is not None and (address.is_link_local or address.is_multicast or address.is_unspecified):
        return False
    return any(_bound(host, port, entries) for entries in settings.JUDGE_KEYS.values())


def _bound(host: str, port: int | None, entries: list[tuple[str, int | str | None]]) -> bool:
    """``host`` with the URL's explicit ``port`` (None when it names none) matches an entry:
    an entry without a port admits only URLs that name none; ``*`` any port."""
    host = host.strip("[]")
    for entry, entry_port in entries:
        same_host = entry.strip("[]") == host
        if not same_host and _address(host) is not None and _address(entry.strip("[]")) is not None:
            same_host = _address(host) == _address(entry.strip("[]"))
        if same_host and (entry_port == "*" or entry_port == port):
            return True
    return False


def key_check(*, api_key_env: str, provider: str, base_url: str) -> dict[str, list[str]]:
    """Field errors when ``api_key_env`` is not a key the operator allows, or would be sent to a
    host its entry in ACCORD_JUDGE_KEYS does not name; {} when all is well."""
    if not api_key_env:
        return {}
    keys = settings.JUDGE_KEYS
    if api_key_env not in keys:
        offered = ", ".join(sorted(keys)) or "none: the operator has set ACCORD_JUDGE_KEYS empty"
        return {"api_key_env": [f"{api_key_env!r} is not a key this server offers to judges; use one of: {offered}."]}
    url = base_url or PROVIDER_DEFAULT_URLS.get(provider, "")
    if not url:
        return {"base_url": ["this provider needs a base URL."]}
    try:
        parts = _parts(url)
    except ValueError as exc:
        return {"base_url": [str(exc)]}
    if not _bound((parts.hostname or "").rstrip("."), parts.port, keys[api_key_env]):
        where = ", ".join(h if p is None else f"{h}:{p}" for h, p in keys[api_key_env])
        field = "base_url" if base_url else "api_key_env"
        return {field: [f"the key {api_key_env} may only be sent to {where} (ACCORD_JUDGE_KEYS), not to {url}."]}
    return {}


def endpoint_problem(*, provider: str, base_url: str, api_key_env: str) -> str:
    """Why a stored judge must not be called under today's settings (its host or key was taken
    off since it was saved), or "" when it may."""
    if base_url:
        try:
            base_url_check(base_url)
        except ValueError as exc:
            return f"base_url {exc}"
    errors = key_check(api_key_env=api_key_env, provider=provider, base_url=base_url)
    return " ".join(" ".join(messages) for messages in errors.values())
