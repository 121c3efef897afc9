"""Judges made before quality.JudgeRaterStatus existed get a row for their current version, so
agreement lists one that never ran (a run's end writes the rest, as for new judges)."""

from django.db import migrations

NOT_RUN_NOTE = "not run yet: start a run on the Judges page, or try one item first with its Test button."


def forwards(apps, schema_editor):
    Judge = apps.get_model("judges", "Judge")
    JudgeVersion = apps.get_model("judges", "JudgeVersion")
    JudgeRun = apps.get_model("judges", "JudgeRun")
    JudgeRaterStatus = apps.get_model("quality", "JudgeRaterStatus")
    for judge in Judge.objects.all().iterator():
        version = JudgeVersion.objects.filter(judge=judge).order_by("-number").first()
        if version is None or JudgeRaterStatus.objects.filter(rater_id=version.rater_id).exists():
            continue
        ran = JudgeRun.objects.filter(judge_version=version).exists()
        JudgeRaterStatus.objects.create(
            rater_id=version.rater_id, project_id=judge.project_id, note="" if ran else NOT_RUN_NOTE
        )


class Migration(migrations.Migration):
    dependencies = [
        ("judges", "0004_output_modes_concurrency_logprobs"),
        ("quality", "0006_judge_rater_status"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
