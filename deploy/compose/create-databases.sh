#!/bin/sh
# One database per service, owned by the service's own role (least privilege, ADR 14), as
# deploy/local/stack.sh makes them. Run once by the postgres image on a new data directory.
set -eu
for service in invitations ratings reports scheduling observations; do
    variable=$(echo "${service}_DB_PASSWORD" | tr '[:lower:]' '[:upper:]')
    password=$(printenv "$variable")
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v role="hlm360_$service" -v password="$password" -v db="$service" <<'SQL'
CREATE ROLE :"role" LOGIN NOCREATEDB NOCREATEROLE PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
done
