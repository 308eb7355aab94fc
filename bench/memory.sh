#!/usr/bin/env bash
# Memory of `daisy server` against `redis-server` holding the same data:
# KEYS keys `key:N` with a 16-byte value each (default 1M), loaded with
# `redis-cli --pipe`; prints each server's RSS (VmRSS) and the ratio.
#
#   bench/memory.sh
#   KEYS=100000 bench/memory.sh
#   DAISY_BIN=/path/to/daisy bench/memory.sh   # skip the cargo build
set -euo pipefail

KEYS=${KEYS:-1000000}
# Upper bound on loading one server.
LOAD_TIMEOUT=${LOAD_TIMEOUT:-600}

source "$(dirname "$0")/common.sh"


# The load: SET key:N vNNNNNNNNNNNNNNN (16 bytes, not an integer, so
# Redis cannot store it as one), as a RESP stream for redis-cli --pipe.
load_file "$KEYS" "$work/load.resp"

daisy_port=$(free_port)
mkdir -p "$work/daisy"
"$DAISY_BIN" server --persistence false --client-addr "127.0.0.1:$daisy_port" --data-dir "$work/daisy" \
    >"$work/daisy.log" 2>&1 &
daisy_pid=$!
pids+=("$daisy_pid")
wait_ready daisy "$daisy_port" "$work/daisy.log"

redis_port=$(free_port)
mkdir -p "$work/redis"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --dir "$work/redis" >"$work/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
wait_ready redis-server "$redis_port" "$work/redis.log"

# Loads the keys into one server; prints "empty_kib loaded_kib".
load() {
    local name=$1 port=$2 pid=$3 before after keys
    before=$(rss_kib "$pid")
    timeout "$LOAD_TIMEOUT" redis-cli -h 127.0.0.1 -p "$port" --pipe <"$work/load.resp" >"$work/$name.pipe.log"
    keys=$(timeout 10 redis-cli -h 127.0.0.1 -p "$port" dbsize)
    if [[ "$keys" != "$KEYS" ]]; then
        echo "$name holds $keys keys after the load, expected $KEYS" >&2
        cat "$work/$name.pipe.log" >&2
        exit 1
    fi
    sleep 1
    after=$(rss_kib "$pid")
    echo "$before $after"
}

read -r daisy_before daisy_after < <(load daisy "$daisy_port" "$daisy_pid")
read -r redis_before redis_after < <(load redis "$redis_port" "$redis_pid")

per_key() { awk -v b="$1" -v a="$2" -v n="$KEYS" 'BEGIN { printf "%.1f", (a - b) * 1024 / n }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo "$KEYS keys of 16-byte values"
printf '%-8s %12s %12s %14s\n' server 'empty MiB' 'loaded MiB' 'bytes/key'
printf '%-8s %12s %12s %14s\n' daisy "$(mib "$daisy_before")" "$(mib "$daisy_after")" "$(per_key "$daisy_before" "$daisy_after")"
printf '%-8s %12s %12s %14s\n' redis "$(mib "$redis_before")" "$(mib "$redis_after")" "$(per_key "$redis_before" "$redis_after")"
awk -v d="$daisy_after" -v r="$redis_after" 'BEGIN { printf "RSS ratio daisy/redis: %.2f\n", d / r }'
