#!/usr/bin/env bash
# The suite under load (README, "Contributing: the suite under load"): RUNS consecutive CI runs
# (`.ci/run` on a fresh clone of HEAD, SQLite then PostgreSQL) while a second copy of the suite
# runs beside them, over and over, as the load on the 2 cores. Each side has a database of its
# own. Stops at the first failure of the measured side; exit status 0 only if all RUNS passed
# (the load side finishes the run it is in before the script exits).
#
# LOAD=stress-ng puts `stress-ng --cpu $STRESS_CPUS` (default 1: one of the 2 cores kept busy all
# the time) beside the runs instead of the second suite, which halves a run's time.
#
#   scripts/suite-under-load.sh [RUNS]      (default 5; logs in $LOGS, default /tmp/suite-under-load)
set -uo pipefail
runs=${1:-5}
repo=$(git rev-parse --show-toplevel)
logs=${LOGS:-/tmp/suite-under-load}
pg=${PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432}
mkdir -p "$logs"

one_run() {  # name index database -> exit status of .ci/run
  local dir="$logs/$1-$2"
  rm -rf "$dir" && git clone -q "$repo" "$dir"
  psql "${pg/+psycopg/}/postgres" -qc "CREATE DATABASE $3" >/dev/null 2>&1
  (cd "$dir" && TEST_DATABASE_URL="$pg/$3" CI=true bash .ci/run) >"$dir.log" 2>&1
}

if [ "${LOAD:-suite}" = stress-ng ]; then
  stress-ng --cpu "${STRESS_CPUS:-1}" --quiet &
else
  ( i=0; while [ ! -f "$logs/done" ]; do i=$((i + 1)); one_run load "$i" suite_load; done ) &
fi
load=$!
status=0
for i in $(seq 1 "$runs"); do
  started=$(date +%s)
  one_run measured "$i" suite_measured; rc=$?
  echo "run $i of $runs: exit $rc in $(( $(date +%s) - started )) s, load average $(cut -d' ' -f1-3 /proc/loadavg)" \
    | tee -a "$logs/summary"
  if [ "$rc" -ne 0 ]; then status=1; break; fi
done
touch "$logs/done"
[ "${LOAD:-suite}" = stress-ng ] && kill "$load"
wait "$load"
rm -f "$logs/done"
exit "$status"
