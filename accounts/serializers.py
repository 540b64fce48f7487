from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import ApiKey, ApiScope, AuditLog, Invitation, Membership, Role
from pulse.api_docs import EnumField
from pulse.api_input import StrictInput


class SignupSerializer(StrictInput):
    name = serializers.CharField(max_length=120)
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=256)
    org_name = serializers.CharField(max_length=120)


class LoginSerializer(StrictInput):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=256)


class SwitchOrgSerializer(StrictInput):
    org = serializers.UUIDField()


class OrgSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()


class MembershipSerializer(serializers.ModelSerializer):
    org = OrgSerializer()
    role = serializers.ChoiceField(choices=Role.choices)

    class Meta:
        model = Membership
        fields = ["org", "role"]


class UserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    name = serializers.CharField()


class MeSerializer(serializers.Serializer):
    user = UserSerializer()
    org = OrgSerializer(allow_null=True)
    role = serializers.ChoiceField(choices=Role.choices, allow_null=True)
    memberships = MembershipSerializer(many=True)


# ---------------------------------------------------------------- /v1/api-keys


class ApiKeySerializer(serializers.ModelSerializer):
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiScope.choices))
    created_by = serializers.CharField(
        source="created_by.email", allow_null=True, default=None, help_text="E-mail."
    )
    active = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "scopes",
            "created_by",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "last_used_ip",
            "active",
        ]
        read_only_fields = fields

    def get_active(self, key: ApiKey) -> bool:
        """Neither revoked nor expired."""
        return key.is_active()


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(
        help_text="The full key, shown this once: Authorization: Bearer <key>."
    )

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiKeyCreateSerializer(StrictInput):
    echo_of = ApiKeySerializer

    name = serializers.CharField(max_length=120)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiScope.choices), min_length=1, max_length=3
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


# ---------------------------------------------------------------- /v1/members, invitations


class MemberSerializer(serializers.ModelSerializer):
    user = UserSerializer()
    role = serializers.ChoiceField(choices=Role.choices)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "created_at"]
        read_only_fields = fields


class MemberRoleSerializer(StrictInput):
    echo_of = MemberSerializer

    role = serializers.ChoiceField(choices=Role.choices)


class InvitationSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=Role.choices)
    invited_by = serializers.CharField(
        source="invited_by.email", allow_null=True, default=None, help_text="E-mail."
    )
    status = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "role",
            "invited_by",
            "created_at",
            "expires_at",
            "accepted_at",
            "revoked_at",
            "status",
        ]
        read_only_fields = fields

    @extend_schema_field(
        EnumField("InvitationStatus", ["pending", "accepted", "revoked", "expired"])
    )
    def get_status(self, invitation: Invitation) -> str:
        if invitation.accepted_at:
            return "accepted"
        if invitation.revoked_at:
            return "revoked"
        return "pending" if invitation.is_pending() else "expired"


class InvitationCreateSerializer(StrictInput):
    echo_of = InvitationSerializer

    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)


# ---------------------------------------------------------------- /v1/audit-logs


class AuditLogSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label")
    actor_user = serializers.UUIDField(source="actor_user_id", allow_null=True)
    actor_api_key = serializers.UUIDField(source="actor_api_key_id", allow_null=True)
    changes = serializers.DictField()

    class Meta:
        model = AuditLog
        fields = [
            "id",
            "ts",
            "actor",
            "actor_user",
            "actor_api_key",
            "action",
            "target_type",
            "target_id",
            "target_label",
            "changes",
            "ip",
            "request_id",
        ]
        read_only_fields = fields


class AuditLogFilterSerializer(serializers.Serializer):
    action = serializers.CharField(
        max_length=80,
        required=False,
        help_text='An action ("monitor.update") or a prefix ("monitor").',
    )
    actor = serializers.CharField(
        max_length=254,
        required=False,
        help_text="An e-mail or actor label, or a user or API key id.",
    )
    target = serializers.CharField(
        max_length=200, required=False, help_text='A target id, or "type:id".'
    )
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
