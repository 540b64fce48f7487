#!/bin/sh
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_password="$PULSE_OWNER_PASSWORD" \
  -v app_password="$PULSE_APP_PASSWORD" \
  -v system_password="$PULSE_SYSTEM_PASSWORD" \
  -f /docker-entrypoint-initdb.d/init-db.sql.in
