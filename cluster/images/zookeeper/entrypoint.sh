#!/bin/sh
# Runs one ZooKeeper server as the container's main process, so a SIGKILL of the container is a SIGKILL of
# ZooKeeper. Contract with whoever starts the container (the docker backend, docker-compose.yml):
#   /zk/zoo.cfg  the configuration, with dataDir=/zk/data
#   ZK_MYID      this server's id; written to /zk/data/myid
# Logs go to /zk (zookeeper.log, stdout.log), as the local backend writes them, and outlive the container.
set -eu
: "${ZK_MYID:?set ZK_MYID to this server's id}"
[ -f /zk/zoo.cfg ] || { echo "zk-entrypoint: /zk/zoo.cfg is missing; mount the configuration there" >&2; exit 2; }
mkdir -p /zk/data
echo "$ZK_MYID" > /zk/data/myid
# The same JVM flags as the local backend (cluster/zookeeper.ts): several ensembles share two cores.
# Debian's classpath: the jar's manifest brings the rest; /usr/share/java/* would bind slf4j-nop and mute the log.
exec java -Xmx256m -XX:+UseSerialGC \
  -Dzookeeper.log.dir=/zk -Dzookeeper.root.logger=INFO,ROLLINGFILE \
  -Dlog4j.configuration=file:/etc/zookeeper/conf/log4j.properties \
  -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar \
  org.apache.zookeeper.server.quorum.QuorumPeerMain /zk/zoo.cfg >>/zk/stdout.log 2>&1
