from django.contrib import admin

from annotation.models import Assignment, Draft, Item, Membership, Project, Rater, Rating, RatingChange, Skip


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "rubric_version", "annotations_per_item", "lease_minutes", "created_at"]
    search_fields = ["name"]
    list_filter = ["rubric_version__rubric"]
    inlines = [MembershipInline]
    autocomplete_fields = ["rubric_version"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "role", "created_at"]
    list_filter = ["role", "project"]
    search_fields = ["user__username", "project__name"]
    autocomplete_fields = ["user", "project"]


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    """Data and metadata may be corrected here; the decision may not. Status, approved_by,
    consensus and the rest are written by the approval service (quality/services/approval.py)
    and its verbs (reject, send to review, reopen on the item page or the API), so a form can
    never approve an item past the policy."""

    list_display = ["external_id", "project", "status", "updated_at"]
    readonly_fields = [
        "status",
        "approved_by",
        "consensus",
        "decision_reason",
        "decided_at",
        "disagreement",
        "created_at",
        "updated_at",
    ]
    list_filter = ["status", "project"]
    search_fields = ["external_id"]
    raw_id_fields = ["project"]
    list_select_related = ["project"]
    show_full_result_count = False


@admin.register(Rater)
class RaterAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "user"]
    list_filter = ["kind"]
    search_fields = ["name", "user__username"]


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ["item", "rater", "rubric_version", "source", "created_at"]
    list_filter = ["source", "rater__kind", "item__project"]
    search_fields = ["item__external_id", "rater__name"]
    raw_id_fields = ["item", "rater"]
    list_select_related = ["item", "rater", "rubric_version__rubric"]
    show_full_result_count = False


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    """Leases are written by the queue only (it keeps Item.load in step): look, don't touch."""

    list_display = ["item", "user", "project", "expires_at", "created_at"]
    list_filter = ["project"]
    search_fields = ["item__external_id", "user__username"]
    list_select_related = ["item", "user", "project"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RatingChange)
class RatingChangeAdmin(AssignmentAdmin):
    """The history of corrections, written by rating_change only: look, don't touch."""

    list_display = ["rating", "changed_by", "source", "created_at"]
    list_filter = ["source"]
    search_fields = ["rating__item__external_id", "changed_by__username"]
    list_select_related = ["rating__item", "rating__rater", "changed_by"]


@admin.register(Skip)
class SkipAdmin(admin.ModelAdmin):
    list_display = ["item", "user", "project", "reason", "created_at"]
    list_filter = ["project"]
    search_fields = ["item__external_id", "user__username", "reason"]
    raw_id_fields = ["item", "user", "project"]
    list_select_related = ["item", "user", "project"]
    show_full_result_count = False


@admin.register(Draft)
class DraftAdmin(admin.ModelAdmin):
    list_display = ["item", "user", "updated_at"]
    search_fields = ["item__external_id", "user__username"]
    raw_id_fields = ["item", "user"]
    list_select_related = ["item", "user"]
    show_full_result_count = False
