# ruff: noqa: E501 -- scenario texts are data; wrapping them mid-line would not make them easier to read.
"""Synthetic demo of the agentic workflow: 50 coding tasks, 200 agent traces, ratings for both.

Everything is generated from a fixed seed, so every newcomer sees the same report. Each task is
built from a scenario (instruction, Dockerfile, tests, reference solution) and, for about two in
five, a defect of the kind the acceptance rubric exists to catch: a requirement the tests check
but the instruction never states, a tool the environment lacks, a broken image, tests that expect
something else, or a task too easy to matter. The traces of a defective task fail more often for
the task's reasons (degenerate failures) than the traces of a sound one, which is the signal
the Quality Signal report shows.
"""

import random
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from annotation.models import Project, Role
from annotation.services.items import items_import
from annotation.services.projects import membership_set, project_create
from annotation.services.rating_imports import ratings_import
from rubrics.models import Rubric
from rubrics.templates import TEMPLATES, rubric_from_template

TASKS_PROJECT = "Demo: agentic task acceptance"
TRACES_PROJECT = "Demo: agent failure modes"
GATES = ("achievable", "non_trivial", "functionally_correct", "reliable")


@dataclass(frozen=True)
class Scenario:
    slug: str
    instruction: str
    packages: str
    tests: str
    solution: str
    tool: str  # what the agent reaches for first


SCENARIOS = [
    Scenario(
        "log-summary",
        "The web server writes its access log to `/data/access.log`. Write `/app/summarise.py` that prints the "
        "{n} most frequent client IP addresses, one per line as `<ip> <count>`, most frequent first; break ties "
        "by IP address in ascending order.",
        "python3",
        "import subprocess\n\ndef test_top_ips():\n    out = subprocess.run(['python3', '/app/summarise.py'], "
        "capture_output=True, text=True, check=True).stdout.splitlines()\n    assert len(out) == {n}\n"
        "    assert out[0] == '10.0.0.7 {top}'\n",
        "from collections import Counter\n\ncounts = Counter(line.split()[0] for line in open('/data/access.log'))\n"
        "for ip, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:{n}]:\n    print(ip, n)\n",
        "cat /data/access.log | head",
    ),
    Scenario(
        "csv-dedupe",
        "`/data/customers.csv` has duplicate customers that differ only in letter case and surrounding spaces of "
        "the e-mail column. Write the de-duplicated rows to `/data/customers_clean.csv`, keeping the first "
        "occurrence and the header, in the original order.",
        "python3",
        "import csv\n\ndef test_no_duplicate_emails():\n    rows = list(csv.DictReader(open('/data/customers_clean.csv')))\n"
        "    emails = [r['email'].strip().lower() for r in rows]\n    assert len(emails) == len(set(emails)) == {n}\n",
        "import csv\nseen = set()\nwith open('/data/customers.csv') as f, open('/data/customers_clean.csv', 'w', "
        "newline='') as out:\n    reader = csv.DictReader(f)\n    writer = csv.DictWriter(out, reader.fieldnames)\n"
        "    writer.writeheader()\n    for row in reader:\n        key = row['email'].strip().lower()\n"
        "        if key not in seen:\n            seen.add(key)\n            writer.writerow(row)\n",
        "head -5 /data/customers.csv",
    ),
    Scenario(
        "flaky-retry",
        "`/app/fetch.py` calls a local service on port {port} that fails about one request in three. Add retries "
        "with exponential backoff (at most {n} attempts) so that `python3 /app/fetch.py` prints the payload and "
        "exits 0.",
        "python3 python3-requests",
        "import subprocess\n\ndef test_fetch_succeeds():\n    for _ in range(5):\n        run = subprocess.run(['python3', "
        "'/app/fetch.py'], capture_output=True, text=True)\n        assert run.returncode == 0\n"
        "        assert run.stdout.strip() == 'ok'\n",
        "import time, requests\nfor attempt in range({n}):\n    try:\n        r = requests.get('http://127.0.0.1:{port}/', "
        "timeout=2)\n        r.raise_for_status()\n        print(r.text)\n        break\n    except requests.RequestException:\n"
        "        time.sleep(0.1 * 2 ** attempt)\n",
        "python3 /app/fetch.py",
    ),
    Scenario(
        "sqlite-migration",
        "The SQLite database `/data/app.db` has a table `users(id, name, email)`. Add a NOT NULL column "
        "`created_at` (ISO 8601 text) filled with `{date}` for existing rows, without losing any row or index.",
        "sqlite3 python3",
        "import sqlite3\n\ndef test_column_added():\n    db = sqlite3.connect('/data/app.db')\n"
        "    cols = {{r[1]: r for r in db.execute('PRAGMA table_info(users)')}}\n    assert cols['created_at'][3] == 1\n"
        "    assert db.execute('SELECT count(*) FROM users').fetchone()[0] == {n}\n",
        "sqlite3 /data/app.db <<'SQL'\nBEGIN;\nALTER TABLE users RENAME TO users_old;\nCREATE TABLE users(id INTEGER PRIMARY KEY, "
        "name TEXT, email TEXT, created_at TEXT NOT NULL);\nINSERT INTO users SELECT id, name, email, '{date}' FROM users_old;\n"
        "DROP TABLE users_old;\nCOMMIT;\nSQL\n",
        "sqlite3 /data/app.db .schema",
    ),
    Scenario(
        "json-config-merge",
        "Merge `/etc/app/defaults.json` and `/etc/app/override.json` into `/etc/app/config.json`: nested objects "
        "merge key by key, arrays and scalars from the override replace the defaults. Keep keys sorted.",
        "python3",
        "import json\n\ndef test_merged():\n    cfg = json.load(open('/etc/app/config.json'))\n"
        "    assert cfg['db']['port'] == {port}\n    assert cfg['db']['host'] == 'localhost'\n"
        "    assert list(cfg) == sorted(cfg)\n",
        "import json\n\ndef merge(a, b):\n    out = dict(a)\n    for k, v in b.items():\n"
        "        out[k] = merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v\n    return out\n\n"
        "cfg = merge(json.load(open('/etc/app/defaults.json')), json.load(open('/etc/app/override.json')))\n"
        "json.dump(cfg, open('/etc/app/config.json', 'w'), sort_keys=True, indent=2)\n",
        "cat /etc/app/defaults.json /etc/app/override.json",
    ),
    Scenario(
        "c-build-fix",
        "The C project in `/src/calc` no longer builds with `make`: fix the build without changing the program's "
        "behaviour, so that `./calc {n} 3` prints the sum.",
        "build-essential",
        "import subprocess\n\ndef test_builds_and_adds():\n    subprocess.run(['make', '-C', '/src/calc'], check=True)\n"
        "    out = subprocess.run(['/src/calc/calc', '{n}', '3'], capture_output=True, text=True).stdout\n"
        "    assert out.strip() == str({n} + 3)\n",
        "sed -i 's/^CFLAGS = -Werror=implicit/CFLAGS = -Wall/' /src/calc/Makefile\n"
        "sed -i '1i #include <stdlib.h>' /src/calc/calc.c\nmake -C /src/calc\n",
        "make -C /src/calc",
    ),
    Scenario(
        "git-bisect",
        "The repository in `/repo` has {n} commits; a test in `tests/test_math.py` started failing in one of them. "
        "Write the hash of the first bad commit to `/answer.txt`.",
        "git python3 python3-pytest",
        "def test_first_bad_commit():\n    assert open('/answer.txt').read().strip() == open('/grader/bad_commit').read()"
        ".strip()\n",
        "cd /repo && git bisect start HEAD $(git rev-list --max-parents=0 HEAD) && git bisect run python3 -m pytest -q "
        "tests/test_math.py && git rev-parse refs/bisect/bad > /answer.txt\n",
        "git -C /repo log --oneline | head",
    ),
    Scenario(
        "port-scan-config",
        "A service in this container listens on an unknown TCP port between 8000 and {port}. Find it and write "
        "`PORT=<number>` to `/app/.env`.",
        "iproute2",
        "def test_port_found():\n    line = open('/app/.env').read().strip()\n"
        "    assert line == 'PORT=' + open('/grader/port').read().strip()\n",
        "ss -ltnH | awk '{{print $4}}' | awk -F: '$NF>=8000 && $NF<={port} {{print \"PORT=\" $NF}}' > /app/.env\n",
        "ss -ltn",
    ),
    Scenario(
        "regex-extract",
        "Extract every ISO date (YYYY-MM-DD) from `/data/notes.txt` and write them to `/data/dates.txt`, one per "
        "line, sorted and without duplicates. There are {n} distinct dates.",
        "python3",
        "def test_dates():\n    dates = open('/data/dates.txt').read().split()\n    assert dates == sorted(set(dates))\n"
        "    assert len(dates) == {n}\n",
        "grep -oE '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}' /data/notes.txt | sort -u > /data/dates.txt\n",
        "grep -c . /data/notes.txt",
    ),
    Scenario(
        "cron-backup",
        "Add a cron job for user `app` that archives `/srv/uploads` to `/backups/uploads-<date>.tar.gz` every day at "
        "0{n}:30, keeping only the last 7 archives.",
        "cron",
        "import subprocess\n\ndef test_crontab():\n    tab = subprocess.run(['crontab', '-l', '-u', 'app'], capture_output=True,"
        " text=True).stdout\n    assert '30 {n} * * *' in tab\n    assert 'uploads-' in tab\n",
        "(crontab -l -u app 2>/dev/null; echo '30 {n} * * * tar czf /backups/uploads-$(date +\\%F).tar.gz /srv/uploads && "
        "ls -1t /backups/uploads-*.tar.gz | tail -n +8 | xargs -r rm') | crontab -u app -\n",
        "crontab -l -u app",
    ),
]

# Defect → (rejection reason, failing gate, the failure modes its traces tend to show).
DEFECTS = {
    "underspecified requirement": ("achievable", ["test mismatch", "wrong approach", "test mismatch"]),
    "implicit dependency": ("reliable", ["environment issue", "environment issue", "syntax error"]),
    "broken environment": ("reliable", ["environment issue", "environment issue", "timeout"]),
    "test mismatch": ("functionally_correct", ["test mismatch", "test mismatch", "logic error"]),
    "trivial": ("non_trivial", ["other", "incomplete solution", "syntax error"]),
}
SOUND_MODES = [
    "logic error", "logic error", "edge-case failure", "edge-case failure", "incomplete solution",
    "wrong approach", "syntax error", "timeout", "test mismatch", "environment issue",
]  # fmt: skip


def _apply_defect(task: dict, defect: str, rng: random.Random) -> None:
    if defect == "underspecified requirement":
        task["instruction"] = task["instruction"].rsplit(". ", 1)[0] + "."
        task["tests"] += "\ndef test_output_format():\n    # the instruction never mentions this header\n" \
            "    assert open('/data/report.txt').readline().startswith('# generated')\n"  # fmt: skip
    elif defect == "implicit dependency":
        task["solution"] = "jq -r '.items[] | .name' /data/input.json | sort > /data/names.txt\n" + task["solution"]
    elif defect == "broken environment":
        task["environment"] = task["environment"].replace("debian:bookworm-slim", "debian:bookwrom-slim")
    elif defect == "test mismatch":
        task["tests"] = (
            task["tests"].replace("== {", "!= {")
            if "== {" in task["tests"]
            else task["tests"] + ("\ndef test_exit_code():\n    assert subprocess.run(['true']).returncode == 1\n")
        )
    elif defect == "trivial":
        task["instruction"] = f"Print the contents of `/data/message.txt` (it says `hello {rng.randint(1, 99)}`)."
        task["solution"] = "cat /data/message.txt\n"
        task["tests"] = "import subprocess\n\ndef test_prints():\n    assert subprocess.run(['cat', '/data/message.txt'])" \
            ".returncode == 0\n"  # fmt: skip


def _task(index: int, rng: random.Random) -> tuple[dict, str | None]:
    scenario = SCENARIOS[index % len(SCENARIOS)]
    params = {
        "n": rng.randint(3, 9),
        "top": rng.randint(40, 400),
        "port": rng.choice([8080, 8081, 8443, 8500, 8765, 8999]),
        "date": f"2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
    }
    task = {
        "instruction": scenario.instruction.format(**params),
        "environment": "FROM debian:bookworm-slim\n"
        f"RUN apt-get update && apt-get install -y --no-install-recommends {scenario.packages} "
        "&& rm -rf /var/lib/apt/lists/*\nWORKDIR /app\nCOPY data/ /data/\n",
        "tests": scenario.tests.format(**params),
        "solution": scenario.solution.format(**params),
    }
    defect = None
    if rng.random() < 0.42:
        defect = rng.choice(list(DEFECTS))
        _apply_defect(task, defect, rng)
    sound = defect is None
    task["metadata"] = {
        "pass_rate": round(
            rng.uniform(0.15, 0.75) if sound else rng.choice([rng.uniform(0, 0.1), rng.uniform(0.9, 1)]), 2
        ),
        "tool_calls": rng.randint(14, 48) if sound else rng.randint(4, 30),
        "output_tokens": rng.randint(3_000, 14_000) if sound else rng.randint(800, 9_000),
    }
    return {"external_id": f"task-{index + 1:03d}-{scenario.slug}", "data": task}, defect


def _trace(task_row: dict, defect: str | None, number: int, rng: random.Random) -> tuple[dict, str]:
    modes = DEFECTS[defect][1] if defect else SOUND_MODES
    mode = rng.choice(modes)
    scenario = next(s for s in SCENARIOS if task_row["external_id"].endswith(s.slug))
    outputs = {
        "test mismatch": "FAILED tests/test_task.py::test_output_format - AssertionError: assert False",
        "environment issue": "bash: jq: command not found",
        "syntax error": '  File "/app/solution.py", line 7\n    for ip, n in sorted(counts.items()\n'
        "                                      ^\nSyntaxError: '(' was never closed",
        "logic error": "AssertionError: assert '10.0.0.7 212' == '10.0.0.7 213'",
        "edge-case failure": "FAILED test_task.py::test_empty_input - IndexError: list index out of range",
        "timeout": "[harness] agent exceeded 30 minutes; killed",
        "incomplete solution": "[agent] I have written the first half of the script; continuing next turn.",
        "wrong approach": "[agent] Rewrote the service instead of configuring it; tests expect the original binary.",
        "other": "[harness] the agent ended the episode without running the tests.",
    }
    steps = [
        {"kind": "thought", "content": f"Start by looking at the environment for {scenario.slug.replace('-', ' ')}."},
        {"kind": "tool_call", "name": "bash", "args": {"command": scenario.tool}},
        {"kind": "tool_output", "content": "\n".join(f"line {i}: ..." for i in range(1, rng.randint(4, 40)))},
        {"kind": "thought", "content": "Write the solution, then run the tests."},
        {
            "kind": "tool_call",
            "name": "write_file",
            "args": {"path": "/app/solution.sh", "content": task_row["data"]["solution"]},
        },
        {"kind": "tool_call", "name": "bash", "args": {"command": "python3 -m pytest -q /tests"}},
        {"kind": "tool_output", "content": outputs[mode]},
    ]
    trace = {
        "external_id": f"trace-{number:03d}",
        "data": {"task": task_row["external_id"], "agent": f"demo-agent-{1 + number % 3}", "steps": steps},
        "metadata": {"tool_calls": 3 + rng.randint(0, 30), "output_tokens": rng.randint(500, 12_000)},
    }
    return trace, mode


def _rubric(template: str):
    rubric = Rubric.objects.filter(name=TEMPLATES[template]["name"]).order_by("id").first()
    return rubric.latest_version() if rubric else rubric_from_template(actor=None, template=template)


def _task_rating(rater: str, defect: str | None, rng: random.Random, *, disagree: bool) -> dict:
    values = dict.fromkeys(GATES, True)
    rationales = dict.fromkeys(GATES, "Checked the instruction against the tests and the Dockerfile.")
    if defect:
        gate = DEFECTS[defect][0]
        values[gate] = False
        values["rejection_reason"] = defect
        rationales[gate] = f"Rejected: {defect}."
    if disagree:
        gate = rng.choice(GATES)
        values[gate] = not values[gate]
        rationales[gate] = "On balance I read this differently."
    if not any(v is False for k, v in values.items() if k in GATES):
        values.pop("rejection_reason", None)
    elif "rejection_reason" not in values:
        values["rejection_reason"] = "other"
    return {"rater": rater, "values": values, "rationales": rationales, "seconds_spent": rng.uniform(60, 400)}


@transaction.atomic
def agentic_demo_seed(*, owner, annotators: list[str], reviewer: str) -> bool:
    """Load both demo projects and their ratings; False if they exist already."""
    if Project.objects.filter(name=TASKS_PROJECT).exists():
        return False
    rng = random.Random(2026)
    tasks_project = project_create(
        actor=owner, name=TASKS_PROJECT, rubric=_rubric("agentic-task-acceptance"), annotations_per_item=2,
        guidelines="Judge the **task**, not the agent. Open the Dockerfile and the tests before answering.",
    )  # fmt: skip
    traces_project = project_create(
        actor=owner, name=TRACES_PROJECT, rubric=_rubric("agent-failure-mode"), annotations_per_item=1,
        guidelines="Pick the failure that made success impossible, the earliest one if several apply.",
        tasks_project=tasks_project,
    )  # fmt: skip
    User = get_user_model()
    for project in (tasks_project, traces_project):
        for username in annotators:
            membership_set(project=project, user=User.objects.get(username=username), role=Role.ANNOTATOR)
        membership_set(project=project, user=User.objects.get(username=reviewer), role=Role.REVIEWER)

    tasks = [_task(i, rng) for i in range(50)]
    items_import(project=tasks_project, rows=[row for row, _ in tasks])
    ratings = []
    for index, (row, defect) in enumerate(tasks):
        if index % 10 == 9:
            continue  # not rated yet: undecided
        disagree = index % 7 == 3  # annotators split: goes to the review page
        first, second = annotators[index % 2], annotators[(index + 1) % 2]
        ratings.append({"external_id": row["external_id"], **_task_rating(first, defect, rng, disagree=False)})
        ratings.append({"external_id": row["external_id"], **_task_rating(second, defect, rng, disagree=disagree)})
    ratings_import(project=tasks_project, rows=ratings)

    traces, trace_ratings = [], []
    for number in range(1, 201):
        row, defect = tasks[(number - 1) // 4]
        trace, mode = _trace(row, defect, number, rng)
        traces.append(trace)
        if number % 25 != 0:  # a few still waiting for an annotator
            rater = annotators[number % len(annotators)]
            note = {"note": "Trace ends at the failing test run."} if number % 5 == 0 else {}
            trace_ratings.append(
                {"external_id": trace["external_id"], "rater": rater, "values": {"failure_mode": mode, **note}}
            )
    items_import(project=traces_project, rows=traces)
    ratings_import(project=traces_project, rows=trace_ratings)
    return True
