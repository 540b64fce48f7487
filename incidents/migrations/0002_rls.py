from django.db import migrations

from pulse.db.operations import EnableRLS


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]

    operations = [EnableRLS("incident"), EnableRLS("incidentevent")]
