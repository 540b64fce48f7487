from django.db import migrations

from pulse.db.operations import EnableRLS
from pulse.db.partitions import FUNCTIONS_SQL, default_partition_sql

CHECK_RESULTS_SQL = """
CREATE SEQUENCE check_results_id_seq;
CREATE TABLE check_results (
    id bigint NOT NULL DEFAULT nextval('check_results_id_seq'),
    ts timestamptz NOT NULL,
    org_id uuid NOT NULL,
    monitor_id uuid NOT NULL,
    region varchar(50) NOT NULL DEFAULT 'default',
    due_at timestamptz NOT NULL,
    outcome varchar(4) NOT NULL,
    latency_ms double precision NULL,
    status_code integer NULL,
    error text NOT NULL DEFAULT '',
    details jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (ts, id)
) PARTITION BY RANGE (ts);
ALTER SEQUENCE check_results_id_seq OWNED BY check_results.id;
CREATE INDEX check_results_monitor_ts ON check_results (monitor_id, ts DESC);
CREATE INDEX check_results_org_ts ON check_results (org_id, ts DESC);
CREATE INDEX check_results_ts_brin ON check_results USING brin (ts);
"""


class Migration(migrations.Migration):
    dependencies = [("monitors", "0001_initial")]

    operations = [
        migrations.RunSQL(CHECK_RESULTS_SQL, "DROP TABLE check_results;"),
        migrations.RunSQL(
            default_partition_sql("check_results"), "DROP TABLE check_results_default;"
        ),
        migrations.RunSQL(
            FUNCTIONS_SQL,
            "DROP FUNCTION pulse_ensure_day_partitions(text, int, int);"
            "DROP FUNCTION pulse_drop_day_partitions(text, int);",
        ),
        migrations.RunSQL(
            "SELECT pulse_ensure_day_partitions('check_results', 1, 7);", migrations.RunSQL.noop
        ),
        EnableRLS("checkresult"),
        EnableRLS("monitor"),
        EnableRLS("uptimerollup"),
    ]
