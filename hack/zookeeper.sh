#!/usr/bin/env bash
# Makes a standalone ZooKeeper server, from Debian's `zookeeper` package, available on
# loopback for tests (internal/leader runs it from its TestMain).
#
# Usage:
#   hack/zookeeper.sh start    install the package if missing, start the server if it is not
#                              running, wait until it answers, print ZK_SERVERS=127.0.0.1:PORT
#                              (and ZK_DIR, ZK_PID_FILE) on stdout: eval "$(hack/zookeeper.sh start)"
#   hack/zookeeper.sh stop     stop the server started with the same ZK_PORT/ZK_DIR
#   hack/zookeeper.sh status   exit 0 and print ZK_SERVERS when it runs and answers, else exit 1
#   hack/zookeeper.sh install  only install the package (and Java) when missing
#
# Environment:
#   ZK_PORT           client port, bound to 127.0.0.1 only (default 21810)
#   ZK_DIR            state directory: zoo.cfg, data/, zookeeper.log, zookeeper.pid
#                     (default ${TMPDIR:-/tmp}/lambdascale-zk-$ZK_PORT)
#   ZK_TICK_MS        tickTime in ms; sessions time out between 2 and 300 ticks (default 200)
#   ZK_START_TIMEOUT  seconds to wait for the server to answer (default 60)
#   ZK_OWNER_PID      when set, the server is stopped as soon as that process is gone
#                     (so a killed test run leaves no JVM behind)
#
# Installing needs root (CI runs as root); everything else runs as any user.

# The bash -c snippets below take their arguments as $1..., hence the single quotes.
# shellcheck disable=SC2016
set -euo pipefail

ZK_PORT="${ZK_PORT:-21810}"
ZK_DIR="${ZK_DIR:-${TMPDIR:-/tmp}/lambdascale-zk-${ZK_PORT}}"
ZK_TICK_MS="${ZK_TICK_MS:-200}"
ZK_START_TIMEOUT="${ZK_START_TIMEOUT:-60}"
ZK_OWNER_PID="${ZK_OWNER_PID:-}"

ZK_JAR=/usr/share/java/zookeeper.jar
PID_FILE="$ZK_DIR/zookeeper.pid"
LOG_FILE="$ZK_DIR/zookeeper.log"
MAIN_CLASS=org.apache.zookeeper.server.quorum.QuorumPeerMain

log() { echo "zookeeper.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

installed() { [ -r "$ZK_JAR" ] && command -v java >/dev/null 2>&1; }

install_zookeeper() {
	installed && return 0
	[ "$(id -u)" = 0 ] || die "Debian's zookeeper package is missing and installing it needs root: apt-get install -y zookeeper"
	command -v apt-get >/dev/null 2>&1 || die "Debian's zookeeper package is missing and there is no apt-get to install it"
	log "installing Debian's zookeeper package"
	local out
	out="$(mktemp)"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -q --no-install-recommends zookeeper >"$out" 2>&1; then
		log "install failed, running apt-get update and retrying"
		if ! { apt-get update -q && apt-get install -y -q --no-install-recommends zookeeper; } >"$out" 2>&1; then
			cat "$out" >&2
			rm -f "$out"
			die "apt-get install zookeeper failed"
		fi
	fi
	rm -f "$out"
	installed || die "zookeeper installed but $ZK_JAR or java is missing"
}

# answers succeeds when the server on ZK_PORT replies imok to ruok (whitelisted in our zoo.cfg).
answers() {
	local reply
	reply="$(timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf ruok >&3 && cat <&3' _ "$ZK_PORT" 2>/dev/null)" || true
	[ "$reply" = imok ]
}

port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$ZK_PORT" 2>/dev/null; }

running_pid() {
	local pid
	[ -f "$PID_FILE" ] || return 1
	pid="$(cat "$PID_FILE" 2>/dev/null)" || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}

print_env() {
	echo "ZK_SERVERS=127.0.0.1:$ZK_PORT"
	echo "ZK_DIR=$ZK_DIR"
	echo "ZK_PID_FILE=$PID_FILE"
}

# wait_ready waits until the server answers; when it does not in time, it stops it if this
# invocation started it ($2 = started), so that a failed start leaves no JVM behind.
wait_ready() {
	local pid="$1" started="${2:-}" deadline=$((SECONDS + ZK_START_TIMEOUT))
	until answers; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 30 "$LOG_FILE" >&2 || true
			rm -f "$PID_FILE"
			die "ZooKeeper (pid $pid) exited during start; log: $LOG_FILE"
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			tail -n 30 "$LOG_FILE" >&2 || true
			[ -n "$started" ] && stop >/dev/null 2>&1
			die "ZooKeeper (pid $pid) did not answer on 127.0.0.1:$ZK_PORT within ${ZK_START_TIMEOUT}s; log: $LOG_FILE"
		fi
		sleep 0.2
	done
}

start() {
	local pid
	if pid="$(running_pid)"; then
		wait_ready "$pid"
		log "already running (pid $pid) on 127.0.0.1:$ZK_PORT"
		print_env
		return 0
	fi
	rm -f "$PID_FILE"
	install_zookeeper
	if port_open; then
		die "127.0.0.1:$ZK_PORT is in use by another process; set ZK_PORT to a free port"
	fi

	mkdir -p "$ZK_DIR/data"
	cat >"$ZK_DIR/zoo.cfg" <<EOF
# Standalone test server written by hack/zookeeper.sh.
tickTime=$ZK_TICK_MS
dataDir=$ZK_DIR/data
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
minSessionTimeout=$((2 * ZK_TICK_MS))
maxSessionTimeout=$((300 * ZK_TICK_MS))
admin.enableServer=false
4lw.commands.whitelist=ruok
EOF

	# zookeeper.jar's manifest carries the dependency class path; slf4j-simple makes the
	# server log (to stderr, hence zookeeper.log) instead of warning that it has no binding.
	local cp="$ZK_JAR"
	[ -r /usr/share/java/slf4j-simple.jar ] && cp="$cp:/usr/share/java/slf4j-simple.jar"
	setsid java -Xms32m -Xmx256m -XX:+UseSerialGC \
		-Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
		-Dorg.slf4j.simpleLogger.showDateTime=true \
		-Dzookeeper.jmx.log4j.disable=true \
		-cp "$cp" "$MAIN_CLASS" "$ZK_DIR/zoo.cfg" \
		>"$LOG_FILE" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$PID_FILE"

	if [ -n "$ZK_OWNER_PID" ]; then
		# Stop the server once its owner is gone, unless it was stopped (or replaced) already.
		setsid bash -c 'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
			if [ "$(cat "$3" 2>/dev/null)" = "$2" ]; then kill "$2" 2>/dev/null; rm -f "$3"; fi' \
			_ "$ZK_OWNER_PID" "$pid" "$PID_FILE" >/dev/null 2>&1 </dev/null &
	fi

	wait_ready "$pid" started
	log "started (pid $pid) on 127.0.0.1:$ZK_PORT, dir $ZK_DIR"
	print_env
}

stop() {
	local pid
	if ! pid="$(running_pid)"; then
		rm -f "$PID_FILE"
		log "not running (no live pid in $PID_FILE)"
		return 0
	fi
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid ignored SIGTERM for 10s, sending SIGKILL"
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$PID_FILE"
	rm -rf "$ZK_DIR/data"
	log "stopped (pid $pid)"
}

status() {
	local pid
	if pid="$(running_pid)" && answers; then
		log "running (pid $pid) on 127.0.0.1:$ZK_PORT"
		print_env
		return 0
	fi
	log "not running on 127.0.0.1:$ZK_PORT (dir $ZK_DIR)"
	return 1
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
status) status ;;
install) install_zookeeper ;;
*) die "usage: $0 [start|stop|status|install]" ;;
esac
