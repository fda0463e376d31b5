#!/usr/bin/env bash
# Starts N processes of a command on this machine as one data-parallel group, as torchrun --standalone
# does: each gets RANK and LOCAL_RANK (0..N-1), WORLD_SIZE and LOCAL_WORLD_SIZE (N), MASTER_ADDR
# (127.0.0.1) and MASTER_PORT (a free port unless given), and OMP_NUM_THREADS=1 unless it is set.
#   tools/launch.sh --nproc 2 -- build/tervit-train --config configs/demo_fashion_mnist.yaml --device cpu
# When a process fails, the others get SIGTERM (SIGKILL after --grace-s seconds) and the launcher exits
# with the first failure's code (128 + signal for a process killed by one). SIGINT and SIGTERM sent to
# the launcher go to every process: tervit-train then checkpoints and stops at the same step on all ranks.
# (A launcher put in the background by a non-interactive shell ignores SIGINT, as bash starts such jobs;
# send it SIGTERM.)
set -uo pipefail

usage() {
  echo "usage: $0 --nproc N [--master-port PORT] [--grace-s SECONDS] -- COMMAND [ARGS...]" >&2
  exit 2
}
processes="" port="" grace=30
while (($#)); do
  case "$1" in
    --nproc) processes="${2:-}"; shift 2 || usage ;;
    --master-port) port="${2:-}"; shift 2 || usage ;;
    --grace-s) grace="${2:-}"; shift 2 || usage ;;
    --) shift; break ;;
    -h | --help) usage ;;
    *) echo "launch.sh: unknown option '$1'" >&2; usage ;;
  esac
done
[[ "$processes" =~ ^[1-9][0-9]*$ ]] || { echo "launch.sh: --nproc must be a positive integer, got '$processes'" >&2; exit 2; }
[[ -z "$port" || "$port" =~ ^[1-9][0-9]*$ && "$port" -le 65535 ]] || { echo "launch.sh: --master-port must be 1-65535, got '$port'" >&2; exit 2; }
[[ "$grace" =~ ^[0-9]+$ ]] || { echo "launch.sh: --grace-s must be a whole number of seconds, got '$grace'" >&2; exit 2; }
(($#)) || { echo "launch.sh: no command after --" >&2; usage; }

if [ -z "$port" ]; then
  for _ in $(seq 100); do
    candidate=$((20000 + RANDOM % 40000))
    # Nothing answers a connection there: free (rank 0 binds it a moment later).
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
  done
  [ -n "$port" ] || { echo "launch.sh: found no free port; give --master-port" >&2; exit 2; }
fi
[ -n "${OMP_NUM_THREADS:-}" ] || export OMP_NUM_THREADS=1

# Each process in its own process group: Ctrl-C reaches the launcher only, which passes it on once (a
# second SIGINT would make tervit-train quit without its checkpoint).
set -m
declare -A running=()  # pid -> rank
for ((rank = 0; rank < processes; ++rank)); do
  RANK=$rank LOCAL_RANK=$rank WORLD_SIZE=$processes LOCAL_WORLD_SIZE=$processes MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$@" &
  running[$!]=$rank
done

# To each process's group (its pid): a wrapper script's children get the signal too.
signal_all() {
  for pid in "${!running[@]}"; do kill -s "$1" -- "-$pid" 2>/dev/null; done
}
trap 'signal_all INT' INT
trap 'signal_all TERM' TERM

status=0
killer=""
while ((${#running[@]})); do
  unset finished
  wait -n -p finished "${!running[@]}"
  code=$?
  [ -n "${finished:-}" ] || continue  # a signal to the launcher interrupted the wait
  rank=${running[$finished]}
  unset "running[$finished]"
  if ((code != 0 && status == 0)); then
    status=$code
    echo "launch.sh: rank $rank (pid $finished) exited with code $code; stopping the other ranks" >&2
    signal_all TERM
    (
      sleep "$grace" &
      trap 'kill $! 2>/dev/null; exit' TERM
      wait $!
      signal_all KILL
    ) &
    killer=$!
  fi
done
[ -z "$killer" ] || kill "$killer" 2>/dev/null
exit "$status"
