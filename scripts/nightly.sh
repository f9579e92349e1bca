#!/usr/bin/env bash
# The nightly comparison (.github/workflows/nightly.yml): every recipe version × the faults that tell them apart,
# written to $NIGHTLY_RESULTS/compare-<time>/, compared with the night before (compare --baseline), with the
# nights' index beside them: nights.json and index.html, the trend page (a row per night, a column per cell), which
# is the published site's front page. JUnit XML of the night goes to $NIGHTLY_RESULTS/junit.xml; under GitHub
# Actions the comparison appends its summary to the job's page. Runs wherever the suite runs. The NIGHTLY_*
# variables shrink the matrix; extra arguments go to the compare command, e.g. a two-run check of this script:
#   NIGHTLY_RECIPES=node-naive,node-safe NIGHTLY_SCENARIOS=lost-delete NIGHTLY_WORKLOADS=try-lock \
#   NIGHTLY_TIME_LIMIT=8 scripts/nightly.sh --nemesis-interval 2
# The files of the newest NIGHTLY_KEEP nights are kept (default 4: a night of the full matrix is about 150-200 MB,
# 2-3 MB a 30 s run, and a GitHub Pages site holds 1 GB); nights.json keeps every night's verdicts, so the trend
# page shows older nights too, without links to their runs.
# Exit code: the compare command's (0: every run ran, whatever the verdicts; 255: some crashed).
set -euo pipefail
cd "$(dirname "$0")/.."

# The local backend makes network namespaces and iptables rules: root only.
if [ "$(id -u)" != 0 ]; then
  exec sudo -E env "PATH=$PATH" bash "$0" "$@"
fi

# kazoo and curator are the bookworm versions under their old names: listing them again would run them twice.
recipes=${NIGHTLY_RECIPES:-node-naive,node-safe,kazoo@2.8.0,kazoo@2.11.0,curator@5.4.0,curator@5.7.1}
scenarios=${NIGHTLY_SCENARIOS:-lost-delete,lost-reply,pause-holder,kill+pause+partition}
# try-lock shows leaked cleanups (P1); mutex double holders (P2) and lost create replies (P3); fenced-counter
# whether fencing tokens keep the resource safe when the lock does not.
workloads=${NIGHTLY_WORKLOADS:-try-lock,mutex,fenced-counter}
runs=${NIGHTLY_RUNS:-1}
time_limit=${NIGHTLY_TIME_LIMIT:-30}
results=${NIGHTLY_RESULTS:-results/nightly}
keep=${NIGHTLY_KEEP:-4}

# The workflow runs `npm ci` first; a checkout without node_modules gets them here.
[ -d node_modules ] || npm ci --no-audit --no-fund
mkdir -p "$results"

# The night before, if it is here (the workflow restores the kept nights from its cache).
previous=$(npm run --silent nights -- newest "$results")
baseline=()
if [ -n "$previous" ]; then
  baseline=(--baseline "$previous")
  echo "nightly: comparing with $previous"
fi

status=0
npm run --silent jepsen -- compare --recipes "$recipes" --nemesis "$scenarios" --workload "$workloads" \
  --runs "$runs" --time-limit "$time_limit" --backend local --results "$results" \
  --junit "$results/junit.xml" "${baseline[@]}" "$@" || status=$?

# Each runs/latest link points at a run already there; an artifact or a site that follows links would hold it twice.
find "$results" -name latest -type l -delete
# ZooKeeper's data directories: 64 MB of preallocated transaction log per server and run, sparse on this disk but
# not in the cache's or the site's archive; the servers' logs stay.
find "$results" -path '*/nodes/*/data' -type d -prune -exec rm -rf {} +
npm run --silent nights -- update "$results" --keep "$keep"
exit "$status"
