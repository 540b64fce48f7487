from django.db import migrations

from pulse.db.operations import EnableRLS


class Migration(migrations.Migration):
    dependencies = [("alerting", "0002_initial")]

    operations = [
        EnableRLS(name)
        for name in (
            "monitortransition",
            "alertrule",
            "maintenancewindow",
            "alertrulemonitor",
            "alertrulechannel",
            "maintenancewindowmonitor",
        )
    ]
