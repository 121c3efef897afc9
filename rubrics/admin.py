from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from rubrics.forms import CriterionForm
from rubrics.models import Criterion, Rubric, RubricVersion
from rubrics.services import rubric_version_copy
from rubrics.templates import TEMPLATES, rubric_from_template


class CriterionInline(admin.StackedInline):
    model = Criterion
    form = CriterionForm
    extra = 0
    fields = [
        ("position", "key", "title"),
        "description",
        ("kind", "rationale_required", "required", "gate"),
        ("minimum", "maximum", "step"),
        ("choices", "anchors"),
    ]

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not (obj and obj.is_frozen())

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and not (obj and obj.is_frozen())

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj and obj.is_frozen())


class RubricVersionInline(admin.TabularInline):
    model = RubricVersion
    fields = ["number", "instructions", "created_at", "edit"]
    readonly_fields = ["number", "instructions", "created_at", "edit"]
    extra = 0
    can_delete = False
    show_change_link = True

    def edit(self, obj):
        return "frozen (published or rated)" if obj.is_frozen() else "editable"

    def has_add_permission(self, request, obj=None):
        return False


class RubricFromTemplateForm(forms.Form):
    template = forms.ChoiceField(choices=[(key, t["name"]) for key, t in TEMPLATES.items()])
    name = forms.CharField(max_length=200, required=False, help_text="Leave blank to use the template's name.")


@admin.register(Rubric)
class RubricAdmin(admin.ModelAdmin):
    list_display = ["name", "latest", "created_by", "created_at"]
    search_fields = ["name"]
    inlines = [RubricVersionInline]
    readonly_fields = ["created_by", "created_at"]
    change_list_template = "admin/rubrics/rubric/change_list.html"

    def get_urls(self):
        view = self.admin_site.admin_view(self.from_template_view)
        return [path("from-template/", view, name="rubrics_rubric_from_template"), *super().get_urls()]

    def from_template_view(self, request):
        """Create a rubric from a built-in template, then open its version 1 to edit the criteria."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = RubricFromTemplateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                version = rubric_from_template(
                    actor=request.user, template=form.cleaned_data["template"], name=form.cleaned_data["name"] or None
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                self.message_user(request, f"Created {version} from a template; edit it here.", messages.SUCCESS)
                return redirect(reverse("admin:rubrics_rubricversion_change", args=[version.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "New rubric from a template",
            "opts": self.opts,
            "form": form,
            "templates": TEMPLATES,
        }
        return TemplateResponse(request, "admin/rubrics/rubric/from_template.html", context)

    def latest(self, obj):
        version = obj.latest_version()
        return f"v{version.number}" if version else "—"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if not change:
            RubricVersion.objects.create(rubric=obj, number=1, created_by=request.user)


@admin.register(RubricVersion)
class RubricVersionAdmin(admin.ModelAdmin):
    """Criteria are edited here. A version with ratings is frozen: use 'New version from this
    one', edit the copy, then upgrade projects to it."""

    list_display = ["__str__", "criteria_count", "frozen", "created_at"]
    list_filter = ["rubric"]
    search_fields = ["rubric__name", "instructions"]
    inlines = [CriterionInline]
    readonly_fields = ["rubric", "number", "annotator_preview"]
    fields = ["rubric", "number", "instructions", "annotator_preview"]
    actions = ["new_version"]

    def criteria_count(self, obj):
        return obj.criteria.count()

    @admin.display(boolean=True)
    def frozen(self, obj):
        return obj.is_frozen()

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj and obj.is_frozen():
            fields.append("instructions")
        return fields

    def has_add_permission(self, request):
        return False

    @admin.display(description="What an annotator will see")
    def annotator_preview(self, obj):
        if not obj or not obj.pk:
            return "Save to see the preview."
        html = render_to_string(
            "rubrics/criteria_form.html", {"criteria": obj.criteria.all(), "preview": True, "values": {}}
        )
        return format_html('<div class="accord-preview">{}</div>', html)

    @admin.action(description="New version from this one")
    def new_version(self, request, queryset):
        for version in queryset:
            copy = rubric_version_copy(actor=request.user, version=version)
            self.message_user(request, f"Created {copy}; edit it, then upgrade projects to it.", messages.SUCCESS)
