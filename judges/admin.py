from django import forms
from django.contrib import admin

from judges.endpoints import key_check, key_names
from judges.models import Judge, JudgeBatch, JudgeRun, JudgeSample, JudgeVerdict, JudgeVersion
from judges.services.judges import VERSION_FIELDS


class JudgeForm(forms.ModelForm):
    class Meta:
        model = Judge
        fields = [
            "api_key_env",
            "price_input_per_mtok",
            "price_output_per_mtok",
            "requests_per_minute",
            "tokens_per_minute",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the key variables the operator offers (ACCORD_JUDGE_KEYS), never a free text box.
        names = key_names()
        current = self.instance.api_key_env if self.instance.pk else ""
        choices = [("", "no key (a local server that needs none)"), *((n, n) for n in names)]
        if current and current not in names:
            choices.append((current, f"{current} (no longer offered: the judge refuses to run)"))
        self.fields["api_key_env"] = forms.ChoiceField(choices=choices, required=False, label="API key variable")

    def clean_api_key_env(self):
        value = self.cleaned_data["api_key_env"]
        version = self.instance.current_version() if self.instance.pk else None
        if value and version is not None:
            errors = key_check(api_key_env=value, provider=version.provider, base_url=version.base_url)
            if errors:
                raise forms.ValidationError(" ".join(m for messages in errors.values() for m in messages))
        return value


class JudgeVersionInline(admin.TabularInline):
    model = JudgeVersion
    extra = 0
    can_delete = False
    fields = ["number", *(f for f in VERSION_FIELDS if f != "system_prompt"), "rater"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False  # versions are made by judges.services.judges.judge_update (API), never edited


@admin.register(Judge)
class JudgeAdmin(admin.ModelAdmin):
    """Name, key variable, prices and rate limits are editable here; verdict-affecting settings are
    changed through the API (PATCH /api/v1/judges/<id>/), which makes a new version."""

    form = JudgeForm
    list_display = ["name", "project", "api_key_env", "requests_per_minute", "tokens_per_minute", "created_at"]
    search_fields = ["name"]
    list_filter = ["project"]
    # The name is part of every version's rater name: rename through the API, which renames them.
    readonly_fields = ["name", "project", "created_by", "created_at"]
    inlines = [JudgeVersionInline]

    def has_add_permission(self, request):
        return False  # created through the API, which also makes version 1 and its rater


@admin.register(JudgeRun)
class JudgeRunAdmin(admin.ModelAdmin):
    list_display = [
        "id", "project", "judge_version", "mode", "status", "total", "done", "failed", "no_verdict", "created_at"
    ]  # fmt: skip
    list_filter = ["status", "mode", "project"]
    readonly_fields = [f.name for f in JudgeRun._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(JudgeVerdict)
class JudgeVerdictAdmin(admin.ModelAdmin):
    list_display = ["item", "judge_version", "outcome", "run", "updated_at"]
    list_filter = ["outcome", "judge_version"]
    readonly_fields = [f.name for f in JudgeVerdict._meta.fields]


@admin.register(JudgeSample)
class JudgeSampleAdmin(admin.ModelAdmin):
    list_display = ["item", "judge_version", "sample_index", "outcome", "attempts", "run"]
    list_filter = ["outcome", "judge_version"]
    readonly_fields = [f.name for f in JudgeSample._meta.fields]


@admin.register(JudgeBatch)
class JudgeBatchAdmin(admin.ModelAdmin):
    """Read-only: the provider batches of batch-mode runs, for an operator following one up."""

    list_display = ["id", "run", "index", "provider", "status", "provider_batch_id", "provider_status", "requests"]
    list_filter = ["status", "provider"]
    readonly_fields = [f.name for f in JudgeBatch._meta.fields]

    def has_add_permission(self, request):
        return False
