from django.db import migrations

from pulse.db.operations import CURRENT_USER, EnableRLS


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        # A user sees their own memberships in every org (login, org switcher).
        EnableRLS("membership", extra_select_using=f"user_id = {CURRENT_USER}"),
        EnableRLS("invitation"),
        EnableRLS("auditlog"),
    ]
