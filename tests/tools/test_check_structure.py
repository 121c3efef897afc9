"""tools/check_structure.py on small synthetic trees (run as CI runs it: a subprocess with --root)."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "check_structure.py"


def check(root: Path, files: dict[str, str]) -> tuple[int, str]:
    """Write the files (every directory on the way becomes a package) and run the check on them."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            if parent != Path(".") and not (root / parent / "__init__.py").exists():
                (root / parent / "__init__.py").write_text("")
        path.write_text(textwrap.dedent(text))
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(root)], capture_output=True, text=True, timeout=60
    )
    assert not done.stderr
    return done.returncode, done.stdout


CLEAN = {
    "agreement/alpha.py": "import numpy as np\nfrom agreement._data import rows\n",
    "agreement/_data.py": "rows = []\n",
    "config/settings.py": "import os\n",
    "config/urls.py": "from accounts import views\nfrom judges import urls\n",  # the wiring may import any app
    "accounts/views.py": "from django.http import HttpResponse\nfrom config.settings import os\n",
    "rubrics/services.py": "from accounts.views import HttpResponse\n",
    "annotation/services.py": "import agreement.alpha\nfrom rubrics import services\nfrom annotation import models\n",
    # A type-only import runs never, so it closes no circle (services imports models).
    "annotation/models.py": (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from annotation.services import services\n"
    ),
    "quality/metrics.py": "from annotation.services import services\n",
    "exports/services.py": "from . import spec\nfrom quality.metrics import services\n",
    "exports/spec.py": "from ..annotation import models\n",
    "judges/services.py": "from exports.services import spec\n",
    "demo/seed.py": "from judges.services import spec\n",
    "annotation/big400.py": "x = 1\n" * 400,
    # Outside the layering: they may import anything and be any length.
    "tests/test_all.py": "from demo.seed import spec\nfrom judges import services\n" + "x = 1\n" * 500,
    "benchmarks/bench.py": "from judges.services import spec\n",
    "testbed/fakes.py": "from demo import seed\n",
    "annotation/migrations/0001_initial.py": "from judges.services import spec\n" + "x = 1\n" * 500,
}


def test_a_clean_tree_passes(tmp_path):
    code, out = check(tmp_path, CLEAN)
    assert (code, out) == (0, "structure ok: 23 modules, 0 circles, 0 upward imports, 0 modules over 400 lines\n")


@pytest.mark.parametrize(
    ("a_imports_b", "b_imports_a"),
    [("from annotation import b\n", "from annotation.a import x\n"), ("from . import b\n", "from .a import x\n")],
    ids=["absolute", "relative"],
)
def test_a_top_level_circle_fails(tmp_path, a_imports_b, b_imports_a):
    code, out = check(tmp_path, {"annotation/a.py": a_imports_b, "annotation/b.py": "\n" + b_imports_a})
    assert code == 1
    assert "circle of 2 modules (annotation.a, annotation.b): annotation.a -> annotation.b -> annotation.a" in out
    assert "annotation/a.py:1: annotation.a imports annotation.b\n" in out
    assert "annotation/b.py:2: annotation.b imports annotation.a\n" in out
    assert out.endswith("structure FAILED: 3 modules, 1 circles, 0 upward imports, 0 modules over 400 lines\n")


def test_a_circle_hidden_in_a_function_fails(tmp_path):
    code, out = check(
        tmp_path,
        {
            "judges/services/runs.py": """\
                def run_start():
                    from judges.tasks import chunk_run  # a function-level import still runs

                    chunk_run.delay()
            """,
            "judges/tasks.py": "from judges.services.runs import run_start\n",
        },
    )
    assert code == 1
    assert "judges.services.runs -> judges.tasks -> judges.services.runs" in out
    assert "judges/services/runs.py:2: judges.services.runs imports judges.tasks (in a function)" in out
    assert "judges/tasks.py:1: judges.tasks imports judges.services.runs\n" in out


def test_an_upward_import_fails(tmp_path):
    code, out = check(
        tmp_path, {"annotation/views.py": "\n\nfrom quality.metrics import score\n", "quality/metrics.py": ""}
    )
    assert code == 1
    assert "annotation/views.py:3: annotation imports quality.metrics (upward: quality is above annotation)" in out
    assert "1 upward imports" in out


@pytest.mark.parametrize(
    ("source", "target", "why"),
    [
        ("from django.db import models", "django.db", "agreement imports no django"),
        ("import rest_framework", "rest_framework", "agreement imports no rest_framework"),
        ("from config import settings", "config.settings", "agreement imports no other first-party package"),
    ],
)
def test_agreement_imports_no_django_and_nothing_of_ours(tmp_path, source, target, why):
    code, out = check(tmp_path, {"agreement/stats.py": f"import numpy\n{source}\n", "config/settings.py": ""})
    assert code == 1
    assert f"agreement/stats.py:2: agreement imports {target} ({why})" in out


def test_an_app_importing_judges_fails(tmp_path):
    code, out = check(tmp_path, {"exports/services.py": "from judges.models import Judge\n", "judges/models.py": ""})
    assert code == 1
    assert "exports/services.py:1: exports imports judges.models (only demo, judges may import judges)" in out


def test_config_imports_only_config_except_its_wiring(tmp_path):
    code, out = check(
        tmp_path,
        {
            "config/health.py": "from accounts.models import User\n",
            "config/urls.py": "from accounts.models import User\n",
            "accounts/models.py": "",
        },
    )
    assert code == 1
    assert "config/health.py:1: config imports accounts.models (config imports no other first-party package)" in out
    assert "config/urls.py" not in out


def test_a_module_over_400_lines_fails(tmp_path):
    code, out = check(tmp_path, {"annotation/apis.py": "x = 1\n" * 401, "annotation/ok.py": "x = 1\n" * 400})
    assert code == 1
    assert "annotation/apis.py: 401 lines (limit 400)\n" in out
    assert "annotation/ok.py" not in out
    assert "1 modules over 400 lines" in out


SEAM = {
    "annotation/dispatch.py": """\
        def items_evaluate(project_id):
            from annotation.tasks import project_items_evaluate  # tasks import services

            project_items_evaluate.delay(project_id)
    """,
    "annotation/tasks.py": "from annotation.services import approve\n",
    "annotation/services.py": "from annotation.dispatch import items_evaluate\n\ndef approve(): ...\n",
}


def test_the_dispatch_seam_may_import_its_tasks_in_a_function(tmp_path):
    code, out = check(tmp_path, SEAM)
    assert (code, out) == (0, "structure ok: 4 modules, 0 circles, 0 upward imports, 0 modules over 400 lines\n")


def test_the_dispatch_seam_is_only_dispatch_py_and_only_in_a_function(tmp_path):
    top_level = SEAM | {"annotation/dispatch.py": "from annotation.tasks import project_items_evaluate\n"}
    code, out = check(tmp_path, top_level)
    assert code == 1
    assert "annotation/dispatch.py:1: annotation.dispatch imports annotation.tasks\n" in out

    elsewhere = {"annotation/enqueue.py": SEAM["annotation/dispatch.py"], **SEAM}
    elsewhere["annotation/services.py"] = "from annotation.enqueue import items_evaluate\n\ndef approve(): ...\n"
    del elsewhere["annotation/dispatch.py"]
    code, out = check(tmp_path / "elsewhere", elsewhere)
    assert code == 1
    assert "annotation/enqueue.py:2: annotation.enqueue imports annotation.tasks (in a function)" in out
