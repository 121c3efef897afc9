import hashlib
import io
import json

import pytest
from django.core.management import CommandError, call_command


def test_it_writes_an_export_file_with_a_progress_bar(project, dataset, tmp_path, capsys):
    path = tmp_path / "out.jsonl"
    out = io.StringIO()
    call_command("export", str(project.pk), str(path), "--include", "ratings,judges", stdout=out)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["external_id"] for r in records] == ["x0", "x1", "x2"]
    assert len(records[0]["ratings"]) == 3
    assert hashlib.sha256(path.read_bytes()).hexdigest() in out.getvalue()
    assert "3/3" in capsys.readouterr().err


def test_it_takes_the_format_from_the_file_name_and_filters_like_the_api(project, dataset, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is needed for Parquet")
    path = tmp_path / "out.parquet"
    call_command("export", project.name, str(path), "--status", "all", "--since", "2026-03-03", "--no-progress")
    assert pq.read_table(path).column("external_id").to_pylist() == ["x2"]


def test_it_matches_the_api_export_byte_for_byte(project, dataset, tmp_path, client_for, staff):
    path = tmp_path / "out.csv"
    call_command("export", str(project.pk), str(path), "--status", "all", "--no-progress")
    response = client_for(staff).get(f"/api/v1/projects/{project.pk}/export/", {"format": "csv", "status": "all"})
    assert path.read_bytes() == b"".join(response.streaming_content)


@pytest.mark.parametrize(("args", "message"), [(["--status", "done"], "--status"), (["--since", "later"], "--since")])
def test_it_names_the_bad_option(project, tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("export", str(project.pk), str(tmp_path / "x.jsonl"), *args)


def test_it_refuses_an_unknown_project(db, tmp_path):
    with pytest.raises(CommandError, match="no project"):
        call_command("export", "404", str(tmp_path / "x.jsonl"))
