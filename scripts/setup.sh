#!/usr/bin/env bash
# Installs the system packages the suite needs, when missing. Idempotent; one dpkg query when all is present.
# Usage: setup.sh [run|test|docker]   run: a real test; docker: also Docker, running (the docker backend, `npm run images`,
# docker-compose.yml); test: also a browser for the report test, and Docker, since the cluster tests run on both backends.
set -euo pipefail
purpose=${1:-run}

# debian-archive-keyring: src/debs.ts checks Debian trixie's and forky's signatures with it (Ubuntu lacks it by default).
packages=(openjdk-17-jre-headless zookeeper python3-kazoo libcurator-recipes-java iproute2 iptables procps debian-archive-keyring)
# Docker's own packages (docker-ce) count as Docker too; debootstrap builds the base image only when no BASE_IMAGE
# (from a registry) is given; compose is for docker-compose.yml by hand, so only the docker purpose wants it.
docker_packages=()
command -v docker >/dev/null 2>&1 || docker_packages+=(docker.io)
[ -n "${BASE_IMAGE:-}" ] || docker_packages+=(debootstrap)
case "$purpose" in
  run) ;;
  test) packages+=(chromium "${docker_packages[@]}") ;;
  docker)
    packages+=("${docker_packages[@]}")
    { docker compose version || command -v docker-compose; } >/dev/null 2>&1 || packages+=(docker-compose) ;;
  *) echo "setup: unknown purpose '$purpose' (expected run, test or docker)" >&2; exit 2 ;;
esac

# One dpkg query for all; a package dpkg has never heard of prints nothing, so compare against the list.
installed=" $(dpkg-query -W -f='${Package}:${db:Status-Status} ' "${packages[@]}" 2>/dev/null || true) "
missing=()
for p in "${packages[@]}"; do
  [[ "$installed" == *" $p:installed "* ]] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: missing ${missing[*]}; this is not a Debian-like system: install them with your package manager (Java 17, ZooKeeper 3.8, kazoo, Curator, iproute2, iptables)" >&2
    exit 3
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
    exit 3
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # The package lists of a fresh machine are empty; refresh them once before installing.
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/zk-lock-jepsen-setup.log 2>&1; then
    apt-get update -qq >>/tmp/zk-lock-jepsen-setup.log 2>&1
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >>/tmp/zk-lock-jepsen-setup.log 2>&1 \
      || { echo "setup: apt-get install ${missing[*]} failed; see /tmp/zk-lock-jepsen-setup.log" >&2; exit 3; }
  fi
fi

# The docker backend needs a daemon that answers. Where none runs (no systemd here), start dockerd in the
# background, detached from this shell, and wait for it; when one answers already this costs one `docker version`.
if [ "$purpose" = docker ] || [ "$purpose" = test ]; then
  docker_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
  if ! docker_answers; then
    if [ "$(id -u)" != 0 ]; then
      echo "setup: no Docker daemon answers; start one (as root: dockerd &) or join the docker group" >&2
      exit 3
    fi
    echo "setup: starting dockerd (log: /var/log/zk-lock-jepsen-dockerd.log)" >&2
    setsid nohup dockerd >>/var/log/zk-lock-jepsen-dockerd.log 2>&1 </dev/null &
    for _ in $(seq 1 60); do
      docker_answers && break
      sleep 0.5
    done
    docker_answers || { echo "setup: dockerd did not answer within 30 s; see /var/log/zk-lock-jepsen-dockerd.log" >&2; exit 3; }
  fi
fi
