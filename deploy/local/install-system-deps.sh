#!/usr/bin/env bash
# System packages for `make test` and `make demo`, installed only when missing.
#   PostgreSQL server binaries: throwaway test servers (govbus dev postgres, pg fixtures)
#   Chromium:                   browser tests of the gateway
#   Java + Maven:               the local Kafka broker (jars fetched by `govbus dev kafka fetch`)
#   cargo (Rust):               the native hot paths in native/ (rustup's, else Debian's;
#                               pyo3 needs rustc >= 1.74, so Debian 12's 1.63 is too old)
# Idempotent: does nothing when everything is present. Installs only as root; otherwise
# prints what is missing and exits non-zero.
set -euo pipefail

missing=()
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v java >/dev/null || missing+=(java)
command -v mvn >/dev/null || missing+=(maven)
command -v cargo >/dev/null || [ -x "$HOME/.cargo/bin/cargo" ] || missing+=(cargo)

if [ "${#missing[@]}" -eq 0 ]; then
    echo "system deps: all present"
    exit 0
fi

if [ "$EUID" -ne 0 ]; then
    echo "system deps missing: ${missing[*]}" >&2
    echo "install as root: apt-get install -y --no-install-recommends" \
        "${missing[*]/#java/openjdk-17-jre-headless}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q

packages=()
for item in "${missing[@]}"; do
    if [ "$item" = java ]; then
        # Kafka 4 needs Java 17+; newer Debian releases only ship a newer default JRE.
        if apt-cache policy openjdk-17-jre-headless | grep -q 'Candidate: [0-9]'; then
            packages+=(openjdk-17-jre-headless)
        else
            packages+=(default-jre-headless)
        fi
    else
        packages+=("$item")
    fi
done

# We run our own throwaway servers: keep Debian from creating and starting a "main"
# cluster, and keep package scripts from starting services while installing.
mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/govbus.conf
policy_rc_d=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy_rc_d=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy_rc_d"
    chmod +x "$policy_rc_d"
fi
trap '[ -n "$policy_rc_d" ] && rm -f "$policy_rc_d"' EXIT

echo "system deps: installing ${packages[*]}"
apt-get install -y -q --no-install-recommends "${packages[@]}"

compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || {
    echo "postgresql installed but no server binary under /usr/lib/postgresql" >&2
    exit 1
}
# initdb refuses root: the launchers run PostgreSQL as this account when we are root.
id postgres >/dev/null 2>&1 || { echo "the postgres user is missing" >&2; exit 1; }
echo "system deps: done"
