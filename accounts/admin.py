from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from accounts.models import ApiToken
from accounts.services import user_credentials_revoke, user_deactivate

User = get_user_model()


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens by prefix: staff can see who holds which and revoke them (delete). Keys are never
    stored, so no page can show one."""

    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "expires_at"]
    search_fields = ["prefix", "user__username", "name"]
    list_select_related = ["user"]
    fields = ["prefix", "user", "name", "created_at", "last_used_at", "expires_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


admin.site.unregister(User)


@admin.register(User)
class AccordUserAdmin(UserAdmin):
    """Django's user admin; unticking "active" ends the user's tokens and sessions, as the API's
    deactivation does, so that ticking it again revives none of them."""

    actions = ["deactivate_and_sign_out"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            user_credentials_revoke(user=obj)

    @admin.action(description="Deactivate and end every token and session", permissions=["change"])
    def deactivate_and_sign_out(self, request, queryset):
        for user in queryset:
            user_deactivate(user=user)
        self.message_user(request, f"{queryset.count()} user(s) deactivated and signed out everywhere.")
