#!/usr/bin/env bash
# Failover unavailability as a client sees it, DaisyDB next to Redis
# Sentinel, in the same run on this machine, default settings on both:
#  1. daisy: TRIALS times, a fresh `daisy local` cluster under a load of
#     CLIENTS writers; SIGKILL the primary; the time until a write is
#     acknowledged by another node (failover-clock daisy);
#  2. redis: TRIALS times, a fresh redis-server primary, one replica and
#     three sentinels (quorum 2, down-after-milliseconds DOWN_AFTER_MS);
#     the same measurement (failover-clock sentinel);
#  3. p50/p99/max of each and the daisy/redis ratio, and how many trials
#     lost acknowledged writes;
#  4. the planned switchover: SWITCHOVER_TRIALS `DAISY SWITCHOVER`s back and
#     forth under the same load, and the longest pause of any writer.
#
#   bench/failover.sh                                  # 20 trials of each
#   TRIALS=5 bench/failover.sh                         # a quick run
#   DAISY_TRIALS=0 SWITCHOVER_TRIALS=0 bench/failover.sh   # redis only
#   DAISY_BIN=... FAILOVER_CLOCK_BIN=... bench/failover.sh   # skip the builds
#
# DAISY_FAILOVER: auto (default; the cluster fails over by itself) or skip.
# When the first trial sees no write acknowledged within TRIAL_TIMEOUT_MS,
# the remaining daisy trials are skipped.
#
# p50 and p99 are nearest-rank percentiles: below 100 trials p99 is the
# max (ceil(0.99 * 20) = 20); run TRIALS=100 or more for a p99 of its own.
set -euo pipefail

TRIALS=${TRIALS:-20}
# Per part (0 skips it).
DAISY_TRIALS=${DAISY_TRIALS:-$TRIALS}
SENTINEL_TRIALS=${SENTINEL_TRIALS:-$TRIALS}
SWITCHOVER_TRIALS=${SWITCHOVER_TRIALS:-$TRIALS}
CLIENTS=${CLIENTS:-50}
DAISY_FAILOVER=${DAISY_FAILOVER:-auto}
# Extra flags for `daisy local` (e.g. --nodes 3, --safeness 1-safe).
DAISY_LOCAL_ARGS=${DAISY_LOCAL_ARGS:-}
# Sentinel: how long a master must be silent to be subjectively down, and
# the failover timeout (retries of a failed failover, not its speed).
DOWN_AFTER_MS=${DOWN_AFTER_MS:-200}
FAILOVER_TIMEOUT_MS=${FAILOVER_TIMEOUT_MS:-5000}
# failover-clock: load before the kill, load after recovery before the
# counters are read, and when a trial gives up.
WARMUP_MS=${WARMUP_MS:-1000}
SETTLE_MS=${SETTLE_MS:-1000}
TRIAL_TIMEOUT_MS=${TRIAL_TIMEOUT_MS:-30000}
# Upper bounds on a cluster getting ready and on one failover-clock run.
READY_TIMEOUT_SECS=${READY_TIMEOUT_SECS:-60}
CLOCK_TIMEOUT_SECS=${CLOCK_TIMEOUT_SECS:-$((TRIAL_TIMEOUT_MS / 1000 * 2 + 60))}

case "$DAISY_FAILOVER" in
auto | skip) ;;
*)
    echo "DAISY_FAILOVER must be auto or skip" >&2
    exit 1
    ;;
esac
for tool in redis-server redis-cli pgrep; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool: this script installs nothing; install it first (e.g. apt-get install -y redis-server redis-tools procps)" >&2
        exit 1
    }
done
# Debian's redis-sentinel package is only a link to redis-server.
if command -v redis-sentinel >/dev/null; then
    sentinel_cmd=(redis-sentinel)
else
    sentinel_cmd=(redis-server)
fi
source "$(dirname "$0")/common.sh"

if [[ -z "${FAILOVER_CLOCK_BIN:-}" ]]; then
    (cd "$root" && cargo build --release -p daisy-bench-tools)
    FAILOVER_CLOCK_BIN="${CARGO_TARGET_DIR:-$root/target}/release/failover-clock"
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

# free_base_port: a base port B for `daisy local` with B..B+8 and
# B+1000..B+1008 (client and peer ports of up to 9 nodes) all free.
free_base_port() {
    python3 <<'PY'
import random, socket
for _ in range(200):
    base = random.randrange(20000, 30000)
    sockets = []
    try:
        for port in [base + i for i in range(9)] + [base + 1000 + i for i in range(9)]:
            s = socket.socket()
            sockets.append(s)
            s.bind(("127.0.0.1", port))
        print(base)
        break
    except OSError:
        pass
    finally:
        for s in sockets:
            s.close()
else:
    raise SystemExit("no free base port")
PY
}

# forget_pid PID: drops PID from the processes the exit trap stops.
forget_pid() {
    local kept=() p
    for p in "${pids[@]}"; do
        [[ "$p" == "$1" ]] || kept+=("$p")
    done
    pids=("${kept[@]}")
}

stop_all() {
    local p
    for p in "${pids[@]}"; do
        # The killed primary: reaped quietly (bash would report "Killed").
        kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; }
        stop_process "$p"
    done
    pids=()
}

# clock ARGS...: failover-clock, bounded; its stderr goes to clock.err.
clock() {
    timeout "$CLOCK_TIMEOUT_SECS" "$FAILOVER_CLOCK_BIN" "$@" 2>>"$work/clock.err"
}

# start_daisy NAME [FLAG...]: a fresh `daisy local` cluster in $work/NAME,
# with the extra `daisy local` flags given; waits
# (bounded) until it prints its banner, which it does once every secondary
# is connected. Sets daisy_nodes (ADDR,...), daisy_ids (ID=ADDR,...) and
# daisy_pids (ADDR=PID,...) from its children's command lines.
start_daisy() {
    local name=$1 base log p addr id
    shift
    base=$(free_base_port)
    log="$work/$name.out"
    # shellcheck disable=SC2086 # DAISY_LOCAL_ARGS is a list of flags
    "$DAISY_BIN" local --base-port "$base" --dir "$work/$name" $DAISY_LOCAL_ARGS "$@" >"$log" 2>&1 &
    daisy_local_pid=$!
    pids+=("$daisy_local_pid")
    for _ in $(seq $((READY_TIMEOUT_SECS * 10))); do
        grep -q '^Ctrl-C stops every node' "$log" && break
        kill -0 "$daisy_local_pid" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -q '^Ctrl-C stops every node' "$log"; then
        echo "daisy local did not get ready in ${READY_TIMEOUT_SECS}s:" >&2
        tail -20 "$log" >&2
        exit 1
    fi
    daisy_nodes="" daisy_ids="" daisy_pids=""
    for p in $(pgrep -P "$daisy_local_pid"); do
        addr=$(tr '\0' '\n' <"/proc/$p/cmdline" | grep -A1 -x -- --client-addr | tail -1 || true)
        id=$(tr '\0' '\n' <"/proc/$p/cmdline" | grep -A1 -x -- --node-id | tail -1 || true)
        [[ -n "$addr" && -n "$id" ]] || continue
        daisy_nodes+="$addr,"
        daisy_ids+="$id=$addr,"
        daisy_pids+="$addr=$p,"
    done
    daisy_nodes=${daisy_nodes%,} daisy_ids=${daisy_ids%,} daisy_pids=${daisy_pids%,}
    if [[ -z "$daisy_nodes" ]]; then
        echo "found no daisy server under daisy local (pid $daisy_local_pid)" >&2
        exit 1
    fi
}

stop_daisy() {
    stop_process "$daisy_local_pid"
    forget_pid "$daisy_local_pid"
    rm -rf "${work:?}/$1"
}

# start_redis NAME PORT [ARGS...]: redis-server with default settings but
# for its port, directory and no delay before a replica's first sync.
start_redis() {
    local name=$1 port=$2
    shift 2
    mkdir -p "$work/$name"
    redis-server --port "$port" --bind 127.0.0.1 --daemonize no --dir "$work/$name" \
        --repl-diskless-sync-delay 0 "$@" >"$work/$name.log" 2>&1 &
    pid=$!
    pids+=("$pid")
}

# start_sentinel NAME PORT MASTER_PORT
start_sentinel() {
    local name=$1 port=$2 master_port=$3
    mkdir -p "$work/$name"
    cat >"$work/$name/sentinel.conf" <<EOF
port $port
bind 127.0.0.1
protected-mode no
daemonize no
dir $work/$name
sentinel monitor mymaster 127.0.0.1 $master_port 2
sentinel down-after-milliseconds mymaster $DOWN_AFTER_MS
sentinel failover-timeout mymaster $FAILOVER_TIMEOUT_MS
EOF
    "${sentinel_cmd[@]}" "$work/$name/sentinel.conf" --sentinel >"$work/$name.log" 2>&1 &
    pid=$!
    pids+=("$pid")
}

# sentinel_field PORT FIELD: FIELD of SENTINEL master mymaster ("" if none).
sentinel_field() {
    timeout 2 redis-cli -h 127.0.0.1 -p "$1" sentinel master mymaster 2>/dev/null |
        awk -v f="$2" 'previous == f { print; exit } { previous = $0 }'
}

# start_redis_sentinel NAME: primary, replica and three sentinels; waits
# (bounded) until the replica is linked and every sentinel knows the
# replica and the two other sentinels. Sets sentinels and redis_pids.
start_redis_sentinel() {
    local name=$1 ports s ready
    mapfile -t ports < <(free_ports 5)
    start_redis "$name.primary" "${ports[0]}"
    redis_pids="127.0.0.1:${ports[0]}=$pid"
    start_redis "$name.replica" "${ports[1]}" --replicaof 127.0.0.1 "${ports[0]}"
    redis_pids+=",127.0.0.1:${ports[1]}=$pid"
    wait_ready "redis primary" "${ports[0]}" "$work/$name.primary.log"
    wait_ready "redis replica" "${ports[1]}" "$work/$name.replica.log"
    sentinels=""
    for s in 2 3 4; do
        start_sentinel "$name.sentinel$s" "${ports[$s]}" "${ports[0]}"
        sentinels+="127.0.0.1:${ports[$s]},"
    done
    sentinels=${sentinels%,}
    for _ in $(seq $((READY_TIMEOUT_SECS * 10))); do
        ready=1
        [[ "$(timeout 2 redis-cli -h 127.0.0.1 -p "${ports[1]}" info replication 2>/dev/null | tr -d '\r' |
            grep -x 'master_link_status:up')" ]] || ready=0
        for s in 2 3 4; do
            [[ "$(sentinel_field "${ports[$s]}" num-slaves)" == 1 &&
                "$(sentinel_field "${ports[$s]}" num-other-sentinels)" == 2 ]] || ready=0
        done
        ((ready)) && return 0
        sleep 0.1
    done
    echo "the redis replica and sentinels did not get ready in ${READY_TIMEOUT_SECS}s" >&2
    tail -5 "$work/$name".*.log >&2
    exit 1
}

# summary NAME FIELD FILE: p50/p99/max (nearest rank) of FIELD over the
# lines of FILE, the trials without a number, and lost acknowledged writes.
summary() {
    python3 - "$@" <<'PY'
import math, sys
name, field, path = sys.argv[1:4]
values, missing, lost_trials, lost, unchecked, checked = [], 0, 0, 0, 0, False
for line in open(path):
    fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
    if field not in fields:
        continue
    checked = checked or "lost" in fields
    try:
        values.append(float(fields[field]))
    except ValueError:
        missing += 1
    if fields.get("lost") == "unchecked":
        unchecked += 1
    elif int(fields.get("lost", 0)) > 0:
        lost_trials += 1
        lost += int(fields["lost"])
def rank(p):
    return values[max(0, math.ceil(p * len(values)) - 1)]
values.sort()
if values:
    print(f"{name:<10} n={len(values):<3} p50={rank(0.5):8.1f}  p99={rank(0.99):8.1f}  max={values[-1]:8.1f} ms", end="")
else:
    print(f"{name:<10} n=0   (no measurement)", end="")
if checked:
    print(f"  no-ack trials={missing}  trials losing acked writes={lost_trials} ({lost} writes), unchecked={unchecked}", end="")
print()
PY
}

# percentile FILE FIELD P: the nearest-rank percentile P of FIELD ("" if none).
percentile() {
    python3 - "$@" <<'PY'
import math, sys
path, field, p = sys.argv[1], sys.argv[2], float(sys.argv[3])
values = []
for line in open(path):
    fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
    try:
        values.append(float(fields[field]))
    except (KeyError, ValueError):
        pass
values.sort()
print(values[max(0, math.ceil(p * len(values)) - 1)] if values else "")
PY
}

: >"$work/daisy.lines"
: >"$work/redis.lines"
: >"$work/switchover.lines"
clock_args=(--clients "$CLIENTS" --warmup-ms "$WARMUP_MS" --settle-ms "$SETTLE_MS" --timeout-ms "$TRIAL_TIMEOUT_MS")

echo "== 1. daisy: SIGKILL the primary of a fresh 'daisy local ${DAISY_LOCAL_ARGS}' cluster under $CLIENTS writers; $DAISY_TRIALS trials, failover: $DAISY_FAILOVER"
for trial in $(seq "$DAISY_TRIALS"); do
    [[ "$DAISY_FAILOVER" == skip ]] && break
    start_daisy "daisy.$trial"
    line=$(clock daisy --nodes "$daisy_nodes" --kill-pid-of "$daisy_pids" "${clock_args[@]}" ||
        echo "failed")
    stop_daisy "daisy.$trial"
    echo "daisy trial=$trial $line"
    echo "$line" >>"$work/daisy.lines"
    if [[ "$line" == failed ]]; then
        echo "failover-clock failed; its errors:" >&2
        tail -5 "$work/clock.err" >&2
        exit 1
    fi
    if [[ "$DAISY_FAILOVER" == auto && $trial == 1 && "$line" == *unavailable_ms=timeout* ]]; then
        echo "daisy: no write acknowledged within ${TRIAL_TIMEOUT_MS} ms of the kill: this build does not fail over by itself;"
        echo "       the remaining daisy trials are skipped"
        break
    fi
done

echo "== 2. redis: SIGKILL the master of redis-server + 1 replica, 3 sentinels (quorum 2, down-after-milliseconds $DOWN_AFTER_MS, failover-timeout $FAILOVER_TIMEOUT_MS) under $CLIENTS writers; $SENTINEL_TRIALS trials"
for trial in $(seq "$SENTINEL_TRIALS"); do
    start_redis_sentinel "redis.$trial"
    line=$(clock sentinel --sentinels "$sentinels" --master-name mymaster --kill-pid-of "$redis_pids" "${clock_args[@]}" ||
        echo "failed")
    stop_all
    rm -rf "$work"/redis."$trial".*
    echo "redis trial=$trial $line"
    echo "$line" >>"$work/redis.lines"
    if [[ "$line" == failed ]]; then
        echo "failover-clock failed; its errors:" >&2
        tail -5 "$work/clock.err" >&2
        exit 1
    fi
done

echo "== 3. time from SIGKILL of the primary to the first write acknowledged by another node"
echo "   (all_clients: until every writer had one acknowledged; lost: acknowledged increments missing afterwards)"
summary daisy unavailable_ms "$work/daisy.lines"
summary redis unavailable_ms "$work/redis.lines"
summary "daisy all" all_clients_ms "$work/daisy.lines"
summary "redis all" all_clients_ms "$work/redis.lines"
for p in 0.5 0.99; do
    d=$(percentile "$work/daisy.lines" unavailable_ms "$p")
    r=$(percentile "$work/redis.lines" unavailable_ms "$p")
    if [[ -n "$d" && -n "$r" ]]; then
        awk -v d="$d" -v r="$r" -v p="$p" 'BEGIN { printf "daisy/redis at p%d: %.2f\n", p * 100, (r > 0 ? d / r : 0) }'
    else
        echo "daisy/redis at p$(awk -v p="$p" 'BEGIN { print p * 100 }'): - (no daisy or redis measurement)"
    fi
done

if ((SWITCHOVER_TRIALS == 0)); then
    exit 0
fi
echo "== 4. daisy planned switchover: $SWITCHOVER_TRIALS DAISY SWITCHOVERs back and forth on one 'daisy local ${DAISY_LOCAL_ARGS}' cluster under $CLIENTS writers"
# The automatic switch back would race the trials' own switchovers.
start_daisy daisy.switchover --switch-back false
clock switchover --nodes "$daisy_ids" --trials "$SWITCHOVER_TRIALS" --clients "$CLIENTS" \
    --warmup-ms "$WARMUP_MS" --settle-ms "$SETTLE_MS" | tee "$work/switchover.lines" | sed 's/^/switchover /' || {
    echo "failover-clock switchover failed; its errors:" >&2
    tail -5 "$work/clock.err" >&2
    exit 1
}
stop_daisy daisy.switchover
echo "pause: the longest gap between two acknowledged writes of one writer around the command;"
echo "baseline: the same over 500 ms without a switchover, just before it"
summary pause pause_ms "$work/switchover.lines"
summary command command_ms "$work/switchover.lines"
summary baseline baseline_gap_ms "$work/switchover.lines"
if grep -q 'result=error' "$work/switchover.lines"; then
    echo "some switchovers failed; see the lines above and:" >&2
    tail -5 "$work/clock.err" >&2
fi
