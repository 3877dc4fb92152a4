#!/bin/sh
# Mounted at /docker-entrypoint-initdb.d/10-vigil.sh in the influxdb:1.8 image. The image's init script runs
# it once, on the first start with an empty data volume, after it has created the admin user, the database
# $INFLUXDB_DB and the user $INFLUXDB_USER (ALL privileges on that database) from the environment, while a
# temporary influxd listens on 127.0.0.1:$INFLUXDB_INIT_PORT.
#
# Retention: meter readings are the compound's consumption record and the energy API computes exact
# consumption from them, so the default is to keep them forever (INF). Set VIGIL_INFLUX_RETENTION (an
# InfluxQL duration such as 1825d) to bound the database; it only takes effect on a fresh volume. To change it
# later: ALTER RETENTION POLICY "autogen" ON "vigil" DURATION 1825d SHARD DURATION 7d DEFAULT
set -eu

retention="${VIGIL_INFLUX_RETENTION:-INF}"
case "$retention" in
    INF | [0-9]*[mhdw]) ;;
    *) echo "VIGIL_INFLUX_RETENTION must be INF or a duration like 1825d, not '$retention'" >&2; exit 1 ;;
esac

influx -host 127.0.0.1 -port "${INFLUXDB_INIT_PORT:-8086}" \
    -username "$INFLUXDB_ADMIN_USER" -password "$INFLUXDB_ADMIN_PASSWORD" \
    -execute "ALTER RETENTION POLICY \"autogen\" ON \"${INFLUXDB_DB}\" DURATION ${retention} DEFAULT"
echo "vigil: database ${INFLUXDB_DB} retention ${retention}"
