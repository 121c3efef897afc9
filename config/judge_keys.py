"""``ACCORD_JUDGE_KEYS``, read at start-up by config/settings.py: which environment variables a
judge may name as its key, and the hosts each may be sent to (docs/security.md). Kept apart from
the settings module so judges/endpoints.py reads entries of ``ACCORD_JUDGE_HOSTS`` the same way."""

import os

from django.core.exceptions import ImproperlyConfigured


def host_and_port(text: str) -> tuple[str, int | str | None]:
    """``host``, ``host:port``, ``host:*``, ``[v6]:port`` or a bare IPv6 address / CIDR network
    -> (host, port number, "*" or None). ValueError when the port is not one."""
    text = text.strip().lower()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, ""
    if not host or (port and port != "*" and not (port.isdigit() and 0 < int(port) < 65536)):
        raise ValueError(text)
    return host.rstrip("."), int(port) if port.isdigit() else (port or None)


def env_judge_keys(name: str, default: str) -> dict[str, list[tuple[str, int | str | None]]]:
    """``NAME=host[:port][,host[:port]...];NAME2=...``: which environment variables may be a
    judge's key, each bound to the hosts (and ports: a number, or ``*`` for any) it may be sent
    to. A host without a port admits only URLs that name no port."""
    raw = os.environ.get(name, default)
    keys: dict[str, list[tuple[str, int | str | None]]] = {}
    for entry in filter(None, (part.strip() for part in raw.split(";"))):
        var, sep, hosts = (x.strip() for x in entry.partition("="))
        if not sep or not var.isascii() or not var.replace("_", "a").isalnum() or var[0].isdigit():
            raise ImproperlyConfigured(f"{name}: {entry!r} is not VARIABLE=host[:port] (OPENAI_API_KEY=api.openai.com)")
        try:
            keys[var] = [host_and_port(h) for h in hosts.split(",") if h.strip()]
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: {exc} (for {var}) is not host, host:port or host:*.") from None
        if not keys[var]:
            raise ImproperlyConfigured(f"{name}: {var} names no host to send it to.")
    return keys
