-- Runs once when the production database volume is created (postgres image
-- docker-entrypoint-initdb.d). Passwords come from the container environment
-- through psql variables set in init-db.sh.
CREATE ROLE pulse_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE pulse_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD :'app_password';
CREATE ROLE pulse_system LOGIN NOSUPERUSER BYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD :'system_password';
CREATE DATABASE pulse OWNER pulse_owner;
\connect pulse
REVOKE ALL ON DATABASE pulse FROM PUBLIC;
GRANT CONNECT ON DATABASE pulse TO pulse_app, pulse_system;
ALTER SCHEMA public OWNER TO pulse_owner;
GRANT USAGE ON SCHEMA public TO pulse_app, pulse_system;
