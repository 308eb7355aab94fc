#!/usr/bin/env bash
# Throughput of `daisy server` against `redis-server`, measured in the same
# run with redis-benchmark: 50 clients, with and without pipelining.
#
#   bench/throughput.sh            # N=100000 requests per test
#   N=1000000 bench/throughput.sh  # longer run
#   DAISY_BIN=/path/to/daisy bench/throughput.sh   # skip the cargo build
#
# Both servers run on this machine next to the client, so the numbers are
# for comparing the two, not absolute capacity.
set -euo pipefail

N=${N:-100000}
CLIENTS=${CLIENTS:-50}
TESTS=${TESTS:-set,get,incr,lpush,hset}
PIPELINES=${PIPELINES:-"1 16"}
# Each test runs ROUNDS times per server, alternating servers, and the
# median is reported: the machine is shared and single runs are noisy.
ROUNDS=${ROUNDS:-3}
# Upper bound on one redis-benchmark run, so a stuck server cannot hang us.
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}

source "$(dirname "$0")/common.sh"

# With two or more cores, servers share core 0 and the load generator gets
# core 1, so both servers meet the same scheduling.
server_cpu=()
client_cpu=()
if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then
    server_cpu=(taskset -c 0)
    client_cpu=(taskset -c 1)
fi

daisy_port=$(free_port)
mkdir -p "$work/daisy"
"${server_cpu[@]}" "$DAISY_BIN" server --persistence false --client-addr "127.0.0.1:$daisy_port" --data-dir "$work/daisy" \
    >"$work/daisy.log" 2>&1 &
pids+=($!)
daisy_pid=$!
wait_ready daisy "$daisy_port" "$work/daisy.log"

redis_port=$(free_port)
mkdir -p "$work/redis"
"${server_cpu[@]}" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --dir "$work/redis" >"$work/redis.log" 2>&1 &
pids+=($!)
redis_pid=$!
wait_ready redis-server "$redis_port" "$work/redis.log"

# CPU time (user + system, in clock ticks) a process has used so far.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# Prints "TEST RPS" lines for one server and one pipeline depth, and adds
# the server's CPU ticks for the run to the file named by $3.
bench() {
    local port=$1 pipeline=$2 cpu_file=$3 pid=$4 before after
    before=$(cpu_ticks "$pid")
    timeout "$BENCH_TIMEOUT" "${client_cpu[@]}" redis-benchmark -h 127.0.0.1 -p "$port" \
        -c "$CLIENTS" -n "$N" -t "$TESTS" -P "$pipeline" --csv 2>/dev/null |
        awk -F'"' 'NR > 1 && $2 != "" { print $2, $4 }'
    after=$(cpu_ticks "$pid")
    echo $((after - before)) >>"$cpu_file"
}

# Reads "TEST RPS" lines from several rounds; prints "TEST MEDIAN".
median() {
    sort -k1,1 -k2,2n | awk '
        { values[$1] = values[$1] " " $2; count[$1]++ }
        END {
            for (test in values) {
                n = split(substr(values[test], 2), v, " ")
                print test, v[int((n + 1) / 2)]
            }
        }'
}

echo "rounds per line: $ROUNDS (median shown); servers pinned: ${server_cpu[*]:-no}"
printf '%-8s %3s %14s %14s %12s\n' test P 'daisy req/s' 'redis req/s' 'daisy/redis'
for pipeline in $PIPELINES; do
    : >"$work/daisy.$pipeline.all"
    : >"$work/redis.$pipeline.all"
    for _ in $(seq "$ROUNDS"); do
        bench "$daisy_port" "$pipeline" "$work/daisy.cpu" "$daisy_pid" >>"$work/daisy.$pipeline.all"
        bench "$redis_port" "$pipeline" "$work/redis.cpu" "$redis_pid" >>"$work/redis.$pipeline.all"
    done
    median <"$work/daisy.$pipeline.all" | sort >"$work/daisy.$pipeline"
    median <"$work/redis.$pipeline.all" | sort >"$work/redis.$pipeline"
    join "$work/daisy.$pipeline" "$work/redis.$pipeline" |
        awk -v p="$pipeline" '{ printf "%-8s %3s %14.0f %14.0f %12.2f\n", $1, p, $2, $3, ($3 > 0 ? $2 / $3 : 0) }'
done
# Server CPU per request is steadier than requests/s on a shared machine:
# when the load generator is the bottleneck, both servers show the same
# throughput, but the one that needs less CPU per request is faster.
requests=$(( ROUNDS * N * $(tr ',' '\n' <<<"$TESTS" | wc -l) * $(wc -w <<<"$PIPELINES") ))
daisy_cpu=$(awk "{ s += \$1 } END { print s }" "$work/daisy.cpu")
redis_cpu=$(awk "{ s += \$1 } END { print s }" "$work/redis.cpu")
ticks=$(getconf CLK_TCK)
awk -v d="$daisy_cpu" -v r="$redis_cpu" -v n="$requests" -v t="$ticks" 'BEGIN {
    printf "server CPU per request (all lines): daisy %.2f us, redis %.2f us, redis/daisy %.2f\n",
        d / t / n * 1e6, r / t / n * 1e6, (d > 0 ? r / d : 0)
}'
