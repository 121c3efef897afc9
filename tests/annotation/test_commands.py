import json

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Item, Rating


def test_it_imports_items_and_ratings_from_files(project, members, tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_text("\n".join(json.dumps({"external_id": f"f{i}", "data": {"prompt": i}}) for i in range(20)))
    call_command("import_items", str(project.pk), str(items))
    assert Item.objects.filter(project=project).count() == 20

    ratings = tmp_path / "ratings.jsonl"
    row = {
        "external_id": "f1",
        "rater": "annotator",
        "values": {"helpfulness": 2, "correct": False, "tone": "ok"},
        "rationales": {"helpfulness": "thin"},
    }
    ratings.write_text(json.dumps(row))
    call_command("import_ratings", project.name, str(ratings))
    assert Rating.objects.get().values["helpfulness"] == 2


def test_it_fails_a_command_import_with_the_row_report_and_writes_nothing(project, tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_text('{"external_id": "ok", "data": {}}\n{"external_id": "bad"}\n')
    with pytest.raises(CommandError) as excinfo:
        call_command("import_items", str(project.pk), str(items))
    assert "row 2" in str(excinfo.value)
    assert not Item.objects.exists()
