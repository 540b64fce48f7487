from django.db import migrations

from pulse.db.operations import EnableRLS


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_initial")]

    operations = [EnableRLS("channel"), EnableRLS("notification")]
