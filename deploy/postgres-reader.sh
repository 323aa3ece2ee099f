#!/bin/sh
# The read-only role the query API and the dashboard connect as (docker-compose runs this once,
# from /docker-entrypoint-initdb.d, when the Postgres volume is created; tests run it against an
# embedded Postgres). It may SELECT what the pipelines' role creates in the schemas readers use,
# now and later (dbt rebuilds tables by creating new ones), and nothing else:
#   - marts:   the dbt marts (dbt-postgres writes each model in one transaction)
#   - serving: serving.published, the builds published for readers (/health)
# Environment: SHOPPER_READER_PASSWORD (required), SHOPPER_READER_USER (default shopper_reader),
# SHOPPER_OWNER (the pipelines' role, default $POSTGRES_USER), SHOPPER_PG_DATABASE (database name or
# libpq URI to connect to, default shopper); psql connects as $POSTGRES_USER when it is set.
set -eu
: "${SHOPPER_READER_PASSWORD:?set SHOPPER_READER_PASSWORD}"
owner="${SHOPPER_OWNER:-${POSTGRES_USER:?set SHOPPER_OWNER or POSTGRES_USER}}"

psql -v ON_ERROR_STOP=1 -X -q ${POSTGRES_USER:+--username "$POSTGRES_USER"} \
  --dbname "${SHOPPER_PG_DATABASE:-shopper}" \
  -v reader="${SHOPPER_READER_USER:-shopper_reader}" -v password="$SHOPPER_READER_PASSWORD" -v owner="$owner" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'reader', :'password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'reader') \gexec
SELECT format('ALTER ROLE %I SET default_transaction_read_only = on', :'reader') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), :'reader') \gexec
CREATE SCHEMA IF NOT EXISTS marts AUTHORIZATION :"owner";
CREATE SCHEMA IF NOT EXISTS serving AUTHORIZATION :"owner";
GRANT USAGE ON SCHEMA marts, serving TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA marts, serving TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA marts, serving GRANT SELECT ON TABLES TO :"reader";
SQL
