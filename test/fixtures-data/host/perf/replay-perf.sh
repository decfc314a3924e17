#!/bin/sh
# Stands in for perf where a test needs the runner's streaming: replays a recorded
# interval CSV on stderr (where perf stat writes it), whatever the arguments.
cat "$(dirname "$0")/${REPLAY_PERF_FILE:-vm-no-pmu.csv}" >&2
