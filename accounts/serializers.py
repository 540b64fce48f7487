from rest_framework import serializers

from accounts.models import Membership, Role


class SignupSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=256)
    org_name = serializers.CharField(max_length=120)


class LoginSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=256)


class SwitchOrgSerializer(serializers.Serializer):
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
