"""Support admin across all orgs: reads and writes through the system alias, and
every change is audited (pulse.admin.AuditedAdmin)."""

from django.contrib import admin

from accounts.models import AuditLog, Invitation, Membership, Organization, User
from pulse.admin import AuditedAdmin, ReadOnlyAdmin


@admin.register(Organization)
class OrganizationAdmin(AuditedAdmin):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    readonly_fields = ("created_at",)


@admin.register(User)
class UserAdmin(AuditedAdmin):
    list_display = ("email", "name", "is_active", "is_staff", "locked_until", "date_joined")
    list_filter = ("is_active", "is_staff")
    search_fields = ("email", "name")
    fields = ("email", "name", "is_active", "is_staff", "failed_logins", "locked_until")
    readonly_fields = ("failed_logins",)


@admin.register(Membership)
class MembershipAdmin(AuditedAdmin):
    list_display = ("user", "org", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "org__name")
    raw_id_fields = ("user", "org")


@admin.register(Invitation)
class InvitationAdmin(AuditedAdmin):
    list_display = ("email", "org", "role", "expires_at", "accepted_at", "revoked_at")
    search_fields = ("email", "org__name")
    exclude = ("token_hash",)
    raw_id_fields = ("org", "invited_by")


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ("ts", "org", "actor_label", "action", "target_type", "target_label", "ip")
    list_filter = ("action",)
    search_fields = ("actor_label", "action", "target_label", "request_id")
    date_hierarchy = "ts"
