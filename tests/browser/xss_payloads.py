"""The XSS corpus of tests/browser/test_xss_corpus.py: hostile payloads, and a record of where each was planted.

Each payload calls ``window.__xss(tag)``, opens a dialog, or loads ``/xss-canary/<tag>``; the tag
names the field and the payload, so a finding says where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# ``{t}`` is replaced by a tag naming the field and the payload. Tags are [A-Za-z0-9_.-] only.
PAYLOADS = [
    '<script>__xss("{t}")</script>',
    "<img src=x onerror=__xss('{t}')>",
    "<svg onload=__xss('{t}')>",
    "<svg><script>__xss('{t}')</script></svg>",
    '"><img src=x onerror=__xss("{t}")>',  # breaks out of a double-quoted attribute
    "'><svg onload=__xss('{t}')>",  # ... of a single-quoted one
    "</textarea><script>__xss('{t}')</script>",
    "</script><script>__xss('{t}')</script>",  # a closing </script> inside JSON
    "<iframe src=/xss-canary/{t}></iframe>",
    "<a href=\"javascript:__xss('{t}')\">link {t}</a>",
    "[md link {t}](javascript:__xss('{t}'))",
    "[md entity {t}](&#106;avascript:__xss('{t}'))",
    "![md img {t}](x\" onerror=\"__xss('{t}'))",
    "<javascript:__xss('{t}')>",  # Markdown autolink
    "[md ref {t}][r-{t}]\n\n[r-{t}]: javascript:__xss('{t}')\n",
    "```js\" onmouseover=\"__xss('{t}')\n{t}\n```\n",  # fence language breaking the class attribute
    '<a href="data:text/html,<script>__xss(1)</script>">data {t}</a>',
    "<details open ontoggle=__xss('{t}')>",
    "<math><mtext><table><mglyph><style><img src=x onerror=__xss('{t}')>",  # mutation XSS
    "<noscript><p title=\"</noscript><img src=x onerror=__xss('{t}')>\">",
    "<!--<img src=\"--><img src=x onerror=__xss('{t}')//\">",
    "<form action=\"javascript:__xss('{t}')\"><button formaction=\"javascript:__xss('{t}')\">go</button></form>",
    "<meta http-equiv=refresh content=\"0;url=javascript:__xss('{t}')\">",
    "<base href=/xss-canary/{t}/><object data=/xss-canary/{t}></object><embed src=/xss-canary/{t}>",
    "<style>@import '/xss-canary/{t}';</style>",
    '{{ "{t}"|upper }}{% debug %}{{ constructor.constructor("__xss(\'{t}\')")() }}',  # template engines
    "javascript:__xss('{t}')",  # bare, for URL-ish fields and linkifiers
    "\uff1cscript\uff1e__xss('{t}')\uff1c/script\uff1e \u202e{t}\u202c \u2028\u2029",  # look-alikes, RLO, LS/PS
]
TEMPLATE_PAYLOAD = next(i for i, p in enumerate(PAYLOADS) if "|upper" in p)


def payload(index: int, tag: str) -> str:
    return PAYLOADS[index].replace("{t}", tag)


@dataclass
class Corpus:
    """What was planted where: ``planted[field] = [tags]``."""

    planted: dict[str, list[str]] = field(default_factory=dict)

    def text(self, name: str, *, limit: int | None = None, markdown: bool = True) -> str:
        """Every payload that fits in ``limit`` characters, tagged ``name.<index>``."""
        parts, tags = ["**hostile**" if markdown else "hostile"], []
        for i in range(len(PAYLOADS)):
            tag = f"{name}.{i}"
            piece = payload(i, tag)
            if limit is not None and len(" ".join([*parts, piece])) > limit:
                continue
            parts.append(piece)
            tags.append(tag)
        self.planted.setdefault(name, []).extend(tags)
        return "\n".join(parts) if markdown else " ".join(parts)

    def one(self, name: str, index: int) -> str:
        tag = f"{name}.{index}"
        self.planted.setdefault(name, []).append(tag)
        return payload(index, tag)

    @property
    def count(self) -> int:
        return sum(len(tags) for tags in self.planted.values())
