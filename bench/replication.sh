#!/usr/bin/env bash
# Replicated DaisyDB next to replicated Redis, in the same run on this machine:
#  1. SET/INCR requests/s and p50/p99 latency against a daisy primary with one
#     hot secondary, for each safeness level, both nodes --fsync always;
#  2. the same against redis-server with one replica (--replicaof), both
#     --appendonly yes --appendfsync always, and the daisy/redis ratio
#     (the goal: 2-safe at GOAL_RATIO of the Redis pair or better);
#  3. catch-up: how long an empty secondary takes to join a primary holding
#     KEYS keys of VALUE_BYTES bytes after SAVE, in MB/s of the snapshot and
#     keys/s; the same for a redis replica joining a redis primary.
#
#   bench/replication.sh                      # N=100000 requests, KEYS=1000000
#   N=20000 KEYS=100000 ROUNDS=1 bench/replication.sh  # a quick run
#   DAISY_BIN=/path/to/daisy bench/replication.sh   # skip the cargo build
#
# Redis replication is asynchronous: a Redis write is acknowledged once the
# primary has it, like daisy's 1-safe. Every pair runs on this machine next
# to the client, so compare the columns rather than read absolute capacity.
set -euo pipefail

N=${N:-100000}
CLIENTS=${CLIENTS:-50}
TESTS=${TESTS:-set,incr}
PIPELINES=${PIPELINES:-"1 16"}
LEVELS=${LEVELS:-"1-safe 2-safe 2-safe-committed very-safe"}
# Each line runs ROUNDS times per pair, pairs alternating, and the median
# of each column is shown.
ROUNDS=${ROUNDS:-3}
# Daisy at 2-safe should reach this fraction of the Redis pair's requests/s.
GOAL_LEVEL=2-safe
GOAL_RATIO=${GOAL_RATIO:-0.7}
KEYS=${KEYS:-1000000}
VALUE_BYTES=${VALUE_BYTES:-100}
# Upper bounds on one redis-benchmark run, on a secondary reaching its
# primary, and on a catch-up, so a stuck server cannot hang the script.
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}
LINK_TIMEOUT_SECS=${LINK_TIMEOUT_SECS:-60}
CATCHUP_TIMEOUT_SECS=${CATCHUP_TIMEOUT_SECS:-600}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-900}
# Between two looks at INFO while waiting.
POLL_SECS=0.01

for tool in redis-server redis-cli redis-benchmark; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool: this script installs nothing; install it first (e.g. apt-get install -y redis-server redis-tools)" >&2
        exit 1
    }
done
source "$(dirname "$0")/common.sh"

# As in throughput.sh: with two or more cores, every server shares core 0
# and the load generator gets core 1, so all pairs meet the same scheduling.
server_cpu=()
client_cpu=()
if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then
    server_cpu=(taskset -c 0)
    client_cpu=(taskset -c 1)
fi

# free_ports COUNT: COUNT distinct free loopback ports, one per line.
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
sockets = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in sockets))
PY
}

# info_field PORT FIELD: the value of FIELD in INFO replication ("" if absent).
info_field() {
    timeout 2 redis-cli -h 127.0.0.1 -p "$1" info replication 2>/dev/null |
        tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}

# on_secondary PORT COMMAND...: a command on a READONLY connection.
on_secondary() {
    local port=$1
    shift
    printf 'READONLY\n%s\n' "$*" | timeout 5 redis-cli -h 127.0.0.1 -p "$port" 2>/dev/null | tail -1
}

# A daisy pair: primary "a" and hot secondary "b" with data dirs
# $work/NAME.a and $work/NAME.b.
# start_daisy_node NAME ID CLIENT_PORT PEER_PORT MEMBERS LEVEL: sets pid.
start_daisy_node() {
    local name=$1 id=$2 client_port=$3 peer_port=$4 members=$5 level=$6
    mkdir -p "$work/$name.$id"
    "${server_cpu[@]}" "$DAISY_BIN" server --node-id "$id" --client-addr "127.0.0.1:$client_port" \
        --peer-addr "127.0.0.1:$peer_port" --data-dir "$work/$name.$id" --members "$members" \
        --primary a --safeness "$level" --fsync always >>"$work/$name.$id.log" 2>&1 &
    pid=$!
    pids+=("$pid")
}

# start_redis_node NAME PORT [ARGS...]: data dir $work/NAME; sets pid.
# The primary streams its RDB at once (no diskless-sync delay of 5 s).
start_redis_node() {
    local name=$1 port=$2
    shift 2
    mkdir -p "$work/$name"
    "${server_cpu[@]}" redis-server --port "$port" --bind 127.0.0.1 --daemonize no --dir "$work/$name" \
        --save '' --appendonly yes --appendfsync always --repl-diskless-sync-delay 0 "$@" \
        >>"$work/$name.log" 2>&1 &
    pid=$!
    pids+=("$pid")
}

# wait_link PORT SYNC_FIELD LOG: waits (bounded) until the secondary on PORT
# reports master_link_status:up and SYNC_FIELD:0.
wait_link() {
    local port=$1 sync_field=$2 log=$3 info
    for _ in $(seq $((LINK_TIMEOUT_SECS * 10))); do
        info=$(timeout 2 redis-cli -h 127.0.0.1 -p "$port" info replication 2>/dev/null | tr -d '\r' || true)
        if grep -qx 'master_link_status:up' <<<"$info" && grep -qx "$sync_field:0" <<<"$info"; then
            return 0
        fi
        sleep 0.1
    done
    echo "the secondary on port $port did not reach its primary in ${LINK_TIMEOUT_SECS}s; its log:" >&2
    tail -20 "$log" >&2
    exit 1
}

# wait_applied SECONDARY_PORT LSN: waits (bounded) until the secondary's
# applied_lsn is LSN; fails if it is not after LINK_TIMEOUT_SECS.
wait_applied() {
    for _ in $(seq $((LINK_TIMEOUT_SECS * 10))); do
        [[ "$(info_field "$1" applied_lsn)" == "$2" ]] && return 0
        sleep 0.1
    done
    return 1
}

# bench PORT PIPELINE: "TEST RPS P50 P99" lines; columns found by name in
# the CSV header ("-" when this redis-benchmark does not print them).
# redis-benchmark stops at the first error reply; it goes to bench.err.
bench() {
    timeout "$BENCH_TIMEOUT" "${client_cpu[@]}" redis-benchmark -h 127.0.0.1 -p "$1" \
        -c "$CLIENTS" -n "$N" -t "$TESTS" -P "$2" --csv 2>>"$work/bench.err" |
        awk -F'"' '
            NR == 1 { for (i = 2; i <= NF; i += 2) column[$i] = i; next }
            $2 != "" {
                p50 = ("p50_latency_ms" in column) ? $(column["p50_latency_ms"]) : "-"
                p99 = ("p99_latency_ms" in column) ? $(column["p99_latency_ms"]) : "-"
                print $2, $(column["rps"]), p50, p99
            }' || true
}

# Reads "TEST P RPS P50 P99" lines of several rounds; prints the median of
# each column per TEST and P.
median() {
    awk '
        { key = $1 " " $2; for (c = 3; c <= 5; c++) values[key, c] = values[key, c] " " $c; keys[key] = 1 }
        END {
            for (key in keys) {
                line = key
                for (c = 3; c <= 5; c++) {
                    n = split(substr(values[key, c], 2), v, " ")
                    # insertion sort: n is ROUNDS, small
                    for (i = 2; i <= n; i++) {
                        x = v[i]
                        for (j = i - 1; j >= 1 && v[j] + 0 > x + 0; j--) v[j + 1] = v[j]
                        v[j + 1] = x
                    }
                    line = line " " v[int((n + 1) / 2)]
                }
                print line
            }
        }' | sort
}

echo "== 1-2. throughput and latency through a primary with one secondary, fsync always on every node"
echo "redis-benchmark -c $CLIENTS -n $N, pipelines: $PIPELINES; median of $ROUNDS round(s); servers pinned: ${server_cpu[*]:-no}"
echo "redis: redis-server + replica (--replicaof), --appendonly yes --appendfsync always (asynchronous replication)"

pairs=()
primary_ports=()
secondary_ports=()
for level in $LEVELS; do
    mapfile -t ports < <(free_ports 4)
    members="a=127.0.0.1:${ports[2]},b=127.0.0.1:${ports[3]}"
    start_daisy_node "$level" a "${ports[0]}" "${ports[2]}" "$members" "$level"
    start_daisy_node "$level" b "${ports[1]}" "${ports[3]}" "$members" "$level"
    wait_ready "daisy $level primary" "${ports[0]}" "$work/$level.a.log"
    wait_ready "daisy $level secondary" "${ports[1]}" "$work/$level.b.log"
    wait_link "${ports[1]}" sync_in_progress "$work/$level.b.log"
    pairs+=("$level")
    primary_ports+=("${ports[0]}")
    secondary_ports+=("${ports[1]}")
done
mapfile -t ports < <(free_ports 2)
start_redis_node redis.primary "${ports[0]}"
start_redis_node redis.replica "${ports[1]}" --replicaof 127.0.0.1 "${ports[0]}"
wait_ready "redis primary" "${ports[0]}" "$work/redis.primary.log"
wait_ready "redis replica" "${ports[1]}" "$work/redis.replica.log"
wait_link "${ports[1]}" master_sync_in_progress "$work/redis.replica.log"
pairs+=(redis)
primary_ports+=("${ports[0]}")
secondary_ports+=("${ports[1]}")

: >"$work/bench.err"
for _ in $(seq "$ROUNDS"); do
    for i in "${!pairs[@]}"; do
        for pipeline in $PIPELINES; do
            bench "${primary_ports[$i]}" "$pipeline" |
                awk -v p="$pipeline" '{ print $1, p, $2, $3, $4 }' >>"$work/${pairs[$i]}.all"
        done
    done
done
if [[ -s "$work/bench.err" ]]; then
    echo "redis-benchmark reported errors (lines missing below are the failed runs):"
    sort -u "$work/bench.err" | head -10
fi
for pair in "${pairs[@]}"; do
    touch "$work/$pair.all"
    median <"$work/$pair.all" >"$work/$pair.median"
done

printf '%-6s %3s %-24s %12s %8s %8s %12s\n' test P pair 'req/s' 'p50 ms' 'p99 ms' 'daisy/redis'
goal_lines=()
while read -r test pipeline rps p50 p99; do
    printf '%-6s %3s %-24s %12.0f %8s %8s\n' "$test" "$pipeline" redis+replica "$rps" "$p50" "$p99"
    for level in $LEVELS; do
        line=$(awk -v t="$test" -v p="$pipeline" '$1 == t && $2 == p' "$work/$level.median")
        if [[ -z "$line" ]]; then
            printf '%-6s %3s %-24s %12s\n' "$test" "$pipeline" "daisy $level" failed
            [[ "$level" == "$GOAL_LEVEL" ]] && goal_lines+=("$test -P $pipeline: failed")
            continue
        fi
        read -r _ _ d_rps d_p50 d_p99 <<<"$line"
        ratio=$(awk -v d="$d_rps" -v r="$rps" 'BEGIN { printf "%.2f", (r > 0 ? d / r : 0) }')
        flag=""
        if [[ "$level" == "$GOAL_LEVEL" ]]; then
            verdict=$(awk -v x="$ratio" -v g="$GOAL_RATIO" 'BEGIN { print (x >= g ? "met" : "MISSED") }')
            flag="  goal >= $GOAL_RATIO: $verdict"
            goal_lines+=("$test -P $pipeline: $ratio $verdict")
        fi
        printf '%-6s %3s %-24s %12.0f %8s %8s %12s%s\n' \
            "$test" "$pipeline" "daisy $level" "$d_rps" "$d_p50" "$d_p99" "$ratio" "$flag"
    done
done < <(sort -k2,2n -k1,1 "$work/redis.median")
echo "goal, daisy $GOAL_LEVEL at >= ${GOAL_RATIO}x the redis pair's req/s:"
printf '  %s\n' "${goal_lines[@]}"

# Every daisy secondary must hold what its primary holds once the writes
# stop: the same last LSN applied and the same DEBUG DIGEST.
echo "secondaries after the runs:"
for i in "${!pairs[@]}"; do
    pair=${pairs[$i]} primary=${primary_ports[$i]} secondary=${secondary_ports[$i]}
    if [[ "$pair" == redis ]]; then
        offset=$(info_field "$primary" master_repl_offset)
        for _ in $(seq $((LINK_TIMEOUT_SECS * 10))); do
            [[ "$(info_field "$secondary" slave_repl_offset)" == "$offset" ]] && break
            sleep 0.1
        done
        printf '  %-24s %s\n' "redis replica:" "offset $(info_field "$secondary" slave_repl_offset) of $offset"
        continue
    fi
    last_lsn=$(info_field "$primary" last_lsn)
    if wait_applied "$secondary" "$last_lsn"; then
        primary_digest=$(timeout 5 redis-cli -h 127.0.0.1 -p "$primary" debug digest)
        secondary_digest=$(on_secondary "$secondary" debug digest)
        state="applied $last_lsn of $last_lsn"
        [[ "$primary_digest" == "$secondary_digest" ]] && state+=", same digest" || state+=", DIGEST DIFFERS"
    else
        state="NOT CAUGHT UP: applied $(info_field "$secondary" applied_lsn) of $last_lsn"
    fi
    printf '  %-24s %s\n' "daisy $pair:" "$state"
done
for pid in "${pids[@]}"; do
    stop_process "$pid"
done
pids=()

echo "== 3. catch-up of an empty secondary: primary holding $KEYS keys of $VALUE_BYTES bytes, after SAVE"
load_file "$KEYS" "$work/load.resp" "$VALUE_BYTES"

# The keys and values themselves, the same for both systems: the files
# differ (redis compresses its RDB), so MB/s of data compares them too.
data_bytes=$(awk -v k="$KEYS" -v v="$VALUE_BYTES" 'BEGIN {
    for (n = 0; n < k; n++) total += length("key:" n) + v
    printf "%d", total
}')

# catch_up_line SYSTEM FILE_BYTES MS: one result line.
catch_up_line() {
    awk -v s="$1" -v b="$2" -v ms="$3" -v k="$KEYS" -v d="$data_bytes" 'BEGIN {
        secs = (ms > 0 ? ms : 1) / 1000
        printf "%-6s %8.1f MB file in %7d ms: %7.1f MB/s of file %7.1f MB/s of data %9.0f keys/s\n",
            s, b / 1e6, ms, b / 1e6 / secs, d / 1e6 / secs, k / secs
    }'
}

mapfile -t ports < <(free_ports 4)
members="a=127.0.0.1:${ports[2]},b=127.0.0.1:${ports[3]}"
# 1-safe: the primary takes writes while its secondary does not exist yet.
start_daisy_node catchup a "${ports[0]}" "${ports[2]}" "$members" 1-safe
wait_ready "daisy catch-up primary" "${ports[0]}" "$work/catchup.a.log"
timeout "$LOAD_TIMEOUT" redis-cli -h 127.0.0.1 -p "${ports[0]}" --pipe <"$work/load.resp" >/dev/null
redis-cli -h 127.0.0.1 -p "${ports[0]}" save >/dev/null
daisy_keys=$(redis-cli -h 127.0.0.1 -p "${ports[0]}" dbsize)
last_lsn=$(info_field "${ports[0]}" last_lsn)
snapshot=$(find "$work/catchup.a/snapshots" -name 'snapshot-*.snap' | sort | tail -1)
snapshot_bytes=$(stat -c %s "$snapshot")
start=$(now_ms)
start_daisy_node catchup b "${ports[1]}" "${ports[3]}" "$members" 1-safe
daisy_ms=""
deadline=$((start + CATCHUP_TIMEOUT_SECS * 1000))
while (($(now_ms) < deadline)); do
    info=$(timeout 2 redis-cli -h 127.0.0.1 -p "${ports[1]}" info replication 2>/dev/null | tr -d '\r' || true)
    if grep -qx 'master_link_status:up' <<<"$info" && grep -qx 'sync_in_progress:0' <<<"$info" &&
        grep -qx "applied_lsn:$last_lsn" <<<"$info"; then
        daisy_ms=$(($(now_ms) - start))
        break
    fi
    sleep "$POLL_SECS"
done
if [[ -z "$daisy_ms" ]]; then
    echo "daisy secondary did not catch up in ${CATCHUP_TIMEOUT_SECS}s; its log:" >&2
    tail -20 "$work/catchup.b.log" >&2
    exit 1
fi
daisy_secondary_keys=$(on_secondary "${ports[1]}" dbsize)
for pid in "${pids[@]}"; do
    stop_process "$pid"
done
pids=()

mapfile -t ports < <(free_ports 2)
start_redis_node catchup.redis.primary "${ports[0]}"
wait_ready "redis catch-up primary" "${ports[0]}" "$work/catchup.redis.primary.log"
timeout "$LOAD_TIMEOUT" redis-cli -h 127.0.0.1 -p "${ports[0]}" --pipe <"$work/load.resp" >/dev/null
redis-cli -h 127.0.0.1 -p "${ports[0]}" save >/dev/null
rdb_bytes=$(stat -c %s "$work/catchup.redis.primary/dump.rdb")
start=$(now_ms)
start_redis_node catchup.redis.replica "${ports[1]}" --replicaof 127.0.0.1 "${ports[0]}"
redis_ms=""
deadline=$((start + CATCHUP_TIMEOUT_SECS * 1000))
while (($(now_ms) < deadline)); do
    info=$(timeout 2 redis-cli -h 127.0.0.1 -p "${ports[1]}" info replication 2>/dev/null | tr -d '\r' || true)
    if grep -qx 'master_link_status:up' <<<"$info" && grep -qx 'master_sync_in_progress:0' <<<"$info"; then
        redis_ms=$(($(now_ms) - start))
        break
    fi
    sleep "$POLL_SECS"
done
redis_secondary_keys=$(timeout 5 redis-cli -h 127.0.0.1 -p "${ports[1]}" dbsize 2>/dev/null || echo "?")

echo "daisy: primary holds $daisy_keys keys up to LSN $last_lsn, snapshot $(basename "$snapshot");" \
    "secondary holds $daisy_secondary_keys keys"
echo "redis: replica holds $redis_secondary_keys keys (the primary streams a fresh RDB, diskless, no delay)"
echo "time from starting the secondary until its link is up, sync done and (daisy) applied_lsn = $last_lsn;"
echo "MB/s of the daisy snapshot file, of the redis dump.rdb, and of the $(awk -v d="$data_bytes" 'BEGIN { printf "%.1f", d / 1e6 }') MB of keys and values (MB = 10^6 bytes):"
catch_up_line daisy "$snapshot_bytes" "$daisy_ms"
if [[ -n "$redis_ms" ]]; then
    catch_up_line redis "$rdb_bytes" "$redis_ms"
    awk -v d="$daisy_ms" -v r="$redis_ms" 'BEGIN { printf "catch-up time daisy/redis: %.2f\n", (r > 0 ? d / r : 0) }'
else
    echo "redis  replica did not finish its sync in ${CATCHUP_TIMEOUT_SECS}s"
fi
