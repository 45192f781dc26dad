#!/usr/bin/env bash
# The hamgam ledger's database (HAMGAM_STATE_DB, default hamgam_state) and its own login (HAMGAM_STATE_USER, default
# hamgam, password HAMGAM_STATE_PASSWORD from .env), beside Airflow's metadata database. The postgres image runs this
# once, when it initialises an empty data volume; `python -m hamgam migrate` (airflow-init) creates the ledger's tables.
set -euo pipefail
: "${HAMGAM_STATE_PASSWORD:?HAMGAM_STATE_PASSWORD is not set (.env)}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     --set=user="${HAMGAM_STATE_USER:-hamgam}" --set=db="${HAMGAM_STATE_DB:-hamgam_state}" \
     --set=password="$HAMGAM_STATE_PASSWORD" <<'SQL'
CREATE ROLE :"user" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"user" ENCODING 'UTF8' TEMPLATE template0;
SQL
