"""Criteria say whether they are acceptance gates (until now every binary criterion was one).

Existing rubrics keep their acceptance buckets where they were meant: a version made from the
task-acceptance template (it has a categorical ``rejection_reason`` criterion: all its binary
criteria; or binary criteria with all four of the template's gate keys: those four) has them
marked as gates. Any other binary
criterion stops being a gate, so plain projects lose the buckets and the export field they never
asked for.
"""

from django.db import migrations, models

TEMPLATE_GATES = {"achievable", "non_trivial", "functionally_correct", "reliable"}


def mark_template_gates(apps, schema_editor):
    Criterion = apps.get_model("rubrics", "Criterion")
    with_reason = set(
        Criterion.objects.filter(key="rejection_reason", scale__kind="categorical").values_list("version_id", flat=True)
    )
    binary: dict[int, dict[str, int]] = {}
    for pk, key, version_id in Criterion.objects.filter(scale__kind="binary").values_list("id", "key", "version_id"):
        binary.setdefault(version_id, {})[key] = pk
    gates = []
    for version_id, keys in binary.items():
        if version_id in with_reason:
            gates.extend(keys.values())
        elif TEMPLATE_GATES <= set(keys):
            gates.extend(keys[k] for k in TEMPLATE_GATES)
    for start in range(0, len(gates), 5_000):
        Criterion.objects.filter(pk__in=gates[start : start + 5_000]).update(gate=True)


class Migration(migrations.Migration):
    dependencies = [
        ("rubrics", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="criterion",
            name="gate",
            field=models.BooleanField(
                default=False,
                help_text="An acceptance gate (binary criteria only): an item is accepted only when every gate is yes.",
            ),
        ),
        migrations.RunPython(mark_template_gates, migrations.RunPython.noop),
    ]
