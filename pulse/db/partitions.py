"""Day partitions for time-series tables (check_results, later metric samples).

The runtime roles own no tables, so they cannot create partitions themselves; the
owner defines two SECURITY DEFINER functions (in migrations, from the SQL below)
that only act on the listed parents. Each new partition gets RLS enabled, forced and
the tenant policy, because a partition queried by name would otherwise skip the
parent's policy.
"""

from __future__ import annotations

from django.db import connections

from pulse.db.operations import CURRENT_ORG

PARTITIONED_TABLES = ("check_results", "metric_samples")

_PARENTS = ", ".join(f"'{t}'" for t in PARTITIONED_TABLES)
_ORG_IN_FORMAT = CURRENT_ORG.replace("'", "''")  # quoted for a literal inside format()

# Built from module constants only (no input): not an injection vector.
FUNCTIONS_SQL = f"""
CREATE OR REPLACE FUNCTION pulse_ensure_day_partitions(parent text, days_back int, days_ahead int)
RETURNS int LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    d date;
    part text;
    made int := 0;
BEGIN
    IF parent NOT IN ({_PARENTS}) THEN
        RAISE EXCEPTION 'not a day-partitioned table: %', parent;
    END IF;
    FOR d IN SELECT generate_series(current_date - days_back, current_date + days_ahead,
                                    interval '1 day')::date LOOP
        part := parent || '_' || to_char(d, 'YYYYMMDD');
        IF to_regclass(part) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                part, parent, (d::timestamp AT TIME ZONE 'UTC'),
                ((d + 1)::timestamp AT TIME ZONE 'UTC'));
            EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', part);
            EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', part);
            EXECUTE format(
                'CREATE POLICY tenant_isolation ON %I USING (org_id = {_ORG_IN_FORMAT}) '
                'WITH CHECK (org_id = {_ORG_IN_FORMAT})', part);
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END $$;

CREATE OR REPLACE FUNCTION pulse_drop_day_partitions(parent text, keep_days int)
RETURNS int LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    part record;
    dropped int := 0;
BEGIN
    IF parent NOT IN ({_PARENTS}) THEN
        RAISE EXCEPTION 'not a day-partitioned table: %', parent;
    END IF;
    FOR part IN
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = parent AND c.relname ~ ('^' || parent || '_[0-9]{{8}}$')
          AND to_date(right(c.relname, 8), 'YYYYMMDD') < current_date - keep_days
    LOOP
        EXECUTE format('DROP TABLE %I', part.relname);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;

REVOKE ALL ON FUNCTION pulse_ensure_day_partitions(text, int, int) FROM PUBLIC;
REVOKE ALL ON FUNCTION pulse_drop_day_partitions(text, int) FROM PUBLIC;
"""  # noqa: S608


def default_partition_sql(parent: str) -> str:
    """A catch-all partition so a row outside the prepared days is kept, not refused."""
    name = f"{parent}_default"
    return (
        f"CREATE TABLE {name} PARTITION OF {parent} DEFAULT; "
        f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY; "
        f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY; "
        f"CREATE POLICY tenant_isolation ON {name} USING (org_id = {CURRENT_ORG}) "
        f"WITH CHECK (org_id = {CURRENT_ORG});"
    )


def ensure_partitions(
    parent: str, *, days_back: int = 1, days_ahead: int = 7, using: str = "system"
) -> int:
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT pulse_ensure_day_partitions(%s, %s, %s)", [parent, days_back, days_ahead]
        )
        return int(cursor.fetchone()[0])


def drop_expired_partitions(parent: str, *, keep_days: int, using: str = "system") -> int:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT pulse_drop_day_partitions(%s, %s)", [parent, keep_days])
        return int(cursor.fetchone()[0])
