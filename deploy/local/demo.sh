#!/usr/bin/env bash
# The main job on embedded defaults: a local Kafka broker and a SQLite base store.
# Departments publish their files, the sync applies them, a bank verifies a loan applicant.
# Rerunnable: file event ids are stable, so a second run only produces duplicates the
# store drops.
set -euo pipefail
cd "$(dirname "$0")/../.."

GOVBUS=.venv/bin/govbus
DATA=deploy/local/demo-data
STATE=.govbus/demo
mkdir -p "$STATE"
export COLUMNS="${COLUMNS:-150}"  # room for the provenance tables when piped

# Bold headings on a terminal only: piped or logged output carries no ANSI codes.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  step() { printf '\n== %s\n' "$*"; }
fi

step "Start a local Kafka broker (KRaft, 127.0.0.1)"
# `dev kafka up` records the broker in .govbus/env; the store is recorded next to it, so
# commands typed later in this checkout find both (`govbus env` shows them).
GOVBUS_BOOTSTRAP_SERVERS=$($GOVBUS dev kafka up --name local)
export GOVBUS_BOOTSTRAP_SERVERS
export GOVBUS_STORE_URL="sqlite:///$PWD/$STATE/base.db"
$GOVBUS env set "GOVBUS_STORE_URL=$GOVBUS_STORE_URL"
echo "bootstrap: $GOVBUS_BOOTSTRAP_SERVERS   store: $GOVBUS_STORE_URL"
# The store's offsets point into this cluster's log: a recreated cluster (after
# `make kafka-down`) starts a fresh demo store, or the sync would seek past its records.
CLUSTER_ID=$($GOVBUS dev kafka status --name local | awk '/^id:/ {print $2}')
if [ -f "$STATE/kafka-cluster-id" ] && [ "$(cat "$STATE/kafka-cluster-id")" != "$CLUSTER_ID" ]; then
  echo "the local Kafka cluster was recreated: starting a fresh demo store"
  rm -f "$STATE"/base.db* "$STATE"/*.rejects.jsonl
fi
echo "$CLUSTER_ID" >"$STATE/kafka-cluster-id"

step "Create the catalog's topics"
$GOVBUS admin topics ensure

publish() { # department resource file; exit 1 (some lines refused) is part of the show
  echo "-- $1 publishes $(basename "$3") as $2"
  local rc=0
  $GOVBUS publish --department "$1" --resource "$2" --rejects "$STATE/$(basename "$3" .jsonl).rejects.jsonl" "$3" || rc=$?
  [ "$rc" -le 1 ] || exit "$rc"
}

step "Departments publish what they are the authoritative source of (一数一源)"
publish PSB BR-PERSON "$DATA/01-psb-persons.jsonl"
publish CAB BR-PERSON "$DATA/02-cab-persons.jsonl"
publish AMR BR-LEGAL-ENTITY "$DATA/03-amr-legal-entities.jsonl"
publish TAX BR-LEGAL-ENTITY "$DATA/04-tax-legal-entities.jsonl"
publish AMR EC-BUSINESS-LICENCE "$DATA/05-amr-business-licences.jsonl"
publish CAB EC-MARRIAGE "$DATA/06-cab-marriage-certificates.jsonl"
publish HOUSING EC-REAL-ESTATE "$DATA/07-housing-real-estate.jsonl"
publish HPF EC-HPF-DEPOSIT "$DATA/08-hpf-deposit.jsonl"

step "Sync the base store until it has caught up"
$GOVBUS sync --until-idle --max-idle-seconds 3

step "A bank checks a housing-loan applicant: one query instead of three paper proofs"
$GOVBUS store get person 110105198503120020
$GOVBUS store verify-certificate '11100000000000000C:京(2020)朝阳区不动产权第0012345号'
$GOVBUS store verify-certificate 11100000000000000D:GJJ-2026-0001 || true
$GOVBUS store verify-certificate 11100000000000000D:GJJ-2026-0002 || true

step "Legal entity with the tax bureau's rating merged in"
$GOVBUS store get legal-entity 91110105MA01ABCD13

step "Done"
echo "Broker: $GOVBUS_BOOTSTRAP_SERVERS   Store: $GOVBUS_STORE_URL   Rejected lines: $STATE/*.rejects.jsonl"
echo "Both are recorded in .govbus/env, which commands run in this checkout (or below it) find"
echo "by themselves. From your own shell, at the checkout's root, try:"
echo "  .venv/bin/govbus env"
echo "  .venv/bin/govbus store get person 110105198503120020"
echo "  .venv/bin/govbus publish -d PSB -r BR-PERSON $DATA/01-psb-persons.jsonl --rejects $STATE/again.rejects.jsonl"
echo "Stop Kafka: make kafka-down"
