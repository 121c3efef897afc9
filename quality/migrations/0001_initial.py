# ApprovalPolicy, RaterTrust and AgreementReport moved from annotation/ to quality/ with their
# tables: this migration only tells Django's state that quality owns them now (annotation 0008
# forgets them there). The database is not touched.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("annotation", "0007_agreement_report"),
        ("rubrics", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="ApprovalPolicy",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("majority_threshold", models.FloatField(default=0.6666666666666666, help_text="Binary / categorical: share of raters that must agree, in (0.5, 1].")),
                        ("numeric_tolerance", models.FloatField(default=0.25, help_text="Ordinal / interval / ratio: largest spread (max - min) as a share of the scale's range; for ratio scales without a maximum, as a share of the median.")),
                        ("judge_may_approve", models.BooleanField(default=False, help_text="A judge trusted on every criterion may approve items that lack human ratings.")),
                        ("trust_margin", models.FloatField(default=0.05, help_text="A judge is trusted when its alpha is at least the humans' alpha minus this.")),
                        ("trust_min_items", models.PositiveIntegerField(default=50, help_text="Items a judge must be measured on.")),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("project", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="approval_policy", to="annotation.project")),
                    ],
                    options={
                        "db_table": "annotation_approvalpolicy",
                        "verbose_name_plural": "approval policies",
                        "constraints": [
                            models.CheckConstraint(condition=models.Q(("majority_threshold__gt", 0.5), ("majority_threshold__lte", 1)), name="policy_majority_range"),
                            models.CheckConstraint(condition=models.Q(("numeric_tolerance__gte", 0)), name="policy_tolerance_not_negative"),
                            models.CheckConstraint(condition=models.Q(("trust_margin__gte", 0)), name="policy_margin_not_negative"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="RaterTrust",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("criterion_key", models.SlugField(max_length=64)),
                        ("trusted", models.BooleanField(default=False)),
                        ("judge_alpha", models.FloatField(blank=True, null=True)),
                        ("human_alpha", models.FloatField(blank=True, null=True)),
                        ("items", models.PositiveIntegerField(default=0)),
                        ("reason", models.TextField(blank=True)),
                        ("computed_at", models.DateTimeField(auto_now=True)),
                        ("project", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="rater_trust", to="annotation.project")),
                        ("rater", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="trust", to="annotation.rater")),
                        ("rubric_version", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="rubrics.rubricversion")),
                    ],
                    options={
                        "db_table": "annotation_ratertrust",
                        "constraints": [
                            models.UniqueConstraint(fields=("project", "rater", "rubric_version", "criterion_key"), name="rater_trust_unique")
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="AgreementReport",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("bootstrap_draws", models.PositiveIntegerField(help_text="Draws asked for (the report says how many it used).")),
                        ("state", models.JSONField(blank=True, default=dict)),
                        ("payload", models.JSONField(blank=True, null=True)),
                        ("ratings", models.PositiveIntegerField(default=0, help_text="Ratings of the project when it was computed.")),
                        ("computed_at", models.DateTimeField(blank=True, null=True)),
                        ("state_read_at", models.DateTimeField(blank=True, null=True)),
                        ("compute_seconds", models.FloatField(blank=True, null=True)),
                        ("refresh_queued_at", models.DateTimeField(blank=True, null=True)),
                        ("computing_since", models.DateTimeField(blank=True, null=True)),
                        ("project", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="agreement_reports", to="annotation.project")),
                    ],
                    options={
                        "db_table": "annotation_agreementreport",
                        "constraints": [
                            models.UniqueConstraint(fields=("project", "bootstrap_draws"), name="agreement_report_one_per_draws")
                        ],
                    },
                ),
            ],
        ),
    ]
