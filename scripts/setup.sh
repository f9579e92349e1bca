#!/usr/bin/env bash
# Installs the system packages the suite needs, when missing, and starts a Docker daemon when the purpose wants one.
# Idempotent: when all is present it costs one dpkg query (and one `docker version` for test and docker).
# Usage: setup.sh [run|test|docker|hosts]
#   run:    a real test (Java, ZooKeeper, kazoo, Curator, iproute2, iptables, the OpenSSH client and unzip for
#           --backend ssh).
#   hosts:  also OpenSSH's server, for `npm run hosts` (local test hosts, each running its own sshd).
#   test:   also Chromium (the report's browser tests), OpenSSH's server (the ssh backend's tests run against
#           local test hosts) and Docker if it can run here; a Docker daemon that cannot start is not an error: the
#           docker tests skip, saying why, and everything else runs.
#   docker: also Docker, running, or exit 3 (the docker backend, `npm run images`, docker-compose.yml).
# It decides by what answers, not by what is on PATH: a `docker` client alone (no daemon, no dockerd) is no Docker.
# Every action prints one line; docs/environment.md says why each package is here.
set -euo pipefail
purpose=${1:-run}
log=/tmp/zk-lock-jepsen-setup.log
dockerd_log=/var/log/zk-lock-jepsen-dockerd.log
# Why Docker cannot run here, for the docker tests' skip line (cluster/docker-images.ts reads it); gone once it can.
unavailable_note=/run/zk-lock-jepsen/docker-unavailable

# debian-archive-keyring: the version cache (ground/debs.ts) checks Debian trixie's and forky's signatures with it.
# openssh-client: --backend ssh drives hosts with OpenSSH's ssh; unzip reads jar manifests (the jars a host gets).
# libzookeeper-java: the ZooKeeper client and ZooKeeper's own lock and election recipes (recipe zk-recipes@3.8.0).
packages=(openjdk-17-jre-headless zookeeper libzookeeper-java python3-kazoo libcurator-recipes-java iproute2 iptables procps debian-archive-keyring openssh-client unzip)

docker_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
wants_docker=false
case "$purpose" in
  run) ;;
  test) wants_docker=true; packages+=(chromium) ;;
  docker) wants_docker=true ;;
  hosts) ;;
  *) echo "setup: unknown purpose '$purpose' (expected run, test, docker or hosts)" >&2; exit 2 ;;
esac
# The test hosts' sshd: an sshd binary that runs is what answers (`sshd -V` prints "OpenSSH_..." and exits; older
# ones print it within their usage text), not a package name.
sshd_answers() { /usr/sbin/sshd -V 2>&1 | grep -q OpenSSH; }
if [ "$purpose" = hosts ] || [ "$purpose" = test ]; then
  sshd_answers || packages+=(openssh-server)
fi

if $wants_docker && ! docker_answers; then
  # No daemon answers: a daemon binary must be there to start one. docker.io brings dockerd and a client; Docker's
  # own packages (docker-ce) count too, since they bring dockerd. debootstrap builds the base image without a
  # registry, unless BASE_IMAGE names one to build on.
  command -v dockerd >/dev/null 2>&1 || packages+=(docker.io)
  [ -n "${BASE_IMAGE:-}" ] || packages+=(debootstrap)
  if [ "$purpose" = docker ]; then
    { docker compose version || command -v docker-compose; } >/dev/null 2>&1 || packages+=(docker-compose)
  fi
fi

# One dpkg query for all; a package dpkg has never heard of prints nothing, so compare against the list.
installed=" $(dpkg-query -W -f='${Package}:${db:Status-Status} ' "${packages[@]}" 2>/dev/null || true) "
missing=()
for p in "${packages[@]}"; do
  [[ "$installed" == *" $p:installed "* ]] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: missing ${missing[*]}; this is not a Debian-like system: install them with your package manager (docs/environment.md)" >&2
    exit 3
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing ${missing[*]}; run as root, or: apt-get install -y ${missing[*]}" >&2
    exit 3
  fi
  started=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  # openssh-server's maintainer script would start a system sshd on port 22; the test hosts run their own. Debian's
  # policy-rc.d protocol (exit 101: do not start services) keeps it from starting, only while we install.
  if [[ " ${missing[*]} " == *" openssh-server "* ]] && [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  # A fresh machine's package lists may be empty or stale: refresh them once when the install cannot find a package.
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
    apt-get update -qq >>"$log" 2>&1
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1 \
      || { echo "setup: apt-get install ${missing[*]} failed; see $log" >&2; exit 3; }
  fi
  echo "setup: installed ${missing[*]} in $((SECONDS - started)) s" >&2
fi

# Not needed, or answering already: nothing more to do.
if ! $wants_docker; then exit 0; fi
if docker_answers; then rm -f "$unavailable_note" 2>/dev/null || true; exit 0; fi

# The daemon is the one thing here that may be unable to run (no privileges for cgroups or iptables, say, in an
# unprivileged container). For `test` that is a fact to report, not a failure; for `docker` it is a failure.
docker_unavailable() {
  { mkdir -p "$(dirname "$unavailable_note")" && echo "$1" >"$unavailable_note"; } 2>/dev/null || true
  if [ "$purpose" = docker ]; then
    echo "setup: $1" >&2
    exit 3
  fi
  echo "setup: $1; the docker tests will skip" >&2
  exit 0
}

command -v dockerd >/dev/null 2>&1 || docker_unavailable "no Docker daemon answers and there is no dockerd to start"
[ "$(id -u)" = 0 ] || docker_unavailable "no Docker daemon answers; start one (as root: dockerd &) or join the docker group"

# No service manager is assumed: start dockerd detached from this shell, then wait until it answers or exits.
setsid nohup dockerd >>"$dockerd_log" 2>&1 </dev/null &
dockerd_pid=$!
for _ in $(seq 1 120); do
  if docker_answers; then
    rm -f "$unavailable_note"
    echo "setup: started dockerd (pid $dockerd_pid, log $dockerd_log)" >&2
    exit 0
  fi
  kill -0 "$dockerd_pid" 2>/dev/null || break
  sleep 0.25
done
kill "$dockerd_pid" 2>/dev/null || true
reason=$(grep -E 'level=(fatal|error)|failed to start' "$dockerd_log" | tail -n 1 | sed -E 's/.*msg="?([^"]*)"?.*/\1/' | cut -c1-160)
docker_unavailable "dockerd could not start (${reason:-no answer within 30 s}; log $dockerd_log)"
