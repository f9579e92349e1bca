#!/usr/bin/env bash
# The nightly comparison (.github/workflows/nightly.yml): every recipe version × the faults that tell them apart,
# written to $NIGHTLY_RESULTS/compare-<time>/ with an index.html beside it that opens the newest comparison (the
# published site's front page). Runs wherever the suite runs. The NIGHTLY_* variables shrink the matrix; extra
# arguments go to the compare command, e.g. a two-run check of this script:
#   NIGHTLY_RECIPES=node-naive,node-safe NIGHTLY_SCENARIOS=lost-delete NIGHTLY_WORKLOADS=try-lock \
#   NIGHTLY_TIME_LIMIT=8 scripts/nightly.sh --nemesis-interval 2
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

npm install --no-audit --no-fund
status=0
npm run --silent jepsen -- compare --recipes "$recipes" --nemesis "$scenarios" --workload "$workloads" \
  --runs "$runs" --time-limit "$time_limit" --backend local --results "$results" "$@" || status=$?

# Directory names are our own timestamps (compare-2026-...Z): nothing to escape.
newest=$(find "$results" -maxdepth 1 -type d -name 'compare-*' -printf '%f\n' 2>/dev/null | sort | tail -n 1)
if [ -n "$newest" ]; then
  cat >"$results/index.html" <<EOF
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>zk-lock-jepsen nightly</title>
<meta http-equiv="refresh" content="0; url=$newest/index.html"></head>
<body><p>The newest comparison: <a href="$newest/index.html">$newest</a></p></body></html>
EOF
  echo "nightly: $results/index.html → $newest"
fi
# Each runs/latest link points at a run already there; an artifact or a site that follows links would hold it twice.
find "$results" -name latest -type l -delete
exit "$status"
