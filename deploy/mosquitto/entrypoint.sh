#!/bin/sh
# Start eclipse-mosquitto:2 with the config `vigil broker-config` generated on the host.
#
# The generated mosquitto.conf is written for a plain process on the host: absolute host paths, `user root`,
# a log file and the --bind/--port given. This script copies it, the ACL and the hashed password file into
# the container and rewrites only the host-specific lines:
#   listener ...              -> listener 1883 0.0.0.0   (the published port decides who can reach it)
#   password_file / acl_file  -> the container copies (owned by mosquitto, 0600)
#   persistence_location      -> /mosquitto/data/        (a named volume: sessions and queues survive)
#   log_dest file ...         -> log_dest stdout         (docker logs)
#   user root                 -> user mosquitto          (drop privileges inside the container)
# Everything else (ACL, no anonymous access, queue and packet limits) is kept as generated.
set -eu

src=/vigil/generated
dst=/mosquitto/config/vigil

for f in mosquitto.conf acl passwd; do
    if [ ! -f "$src/$f" ]; then
        echo "missing $src/$f: run 'vigil broker-config --site ... --out deploy/mosquitto/generated" \
             "--bind 0.0.0.0 --port 1883' first (docs/deployment.md)" >&2
        exit 1
    fi
done

mkdir -p "$dst" /mosquitto/data
cp "$src/acl" "$src/passwd" "$dst/"
sed -e 's#^listener .*#listener 1883 0.0.0.0#' \
    -e "s#^password_file .*#password_file $dst/passwd#" \
    -e "s#^acl_file .*#acl_file $dst/acl#" \
    -e 's#^persistence_location .*#persistence_location /mosquitto/data/#' \
    -e 's#^log_dest file .*#log_dest stdout#' \
    -e 's#^user root$#user mosquitto#' \
    "$src/mosquitto.conf" > "$dst/mosquitto.conf"
chown -R mosquitto:mosquitto "$dst" /mosquitto/data
chmod 0700 "$dst"
chmod 0600 "$dst/acl" "$dst/passwd" "$dst/mosquitto.conf"

exec mosquitto -c "$dst/mosquitto.conf"
