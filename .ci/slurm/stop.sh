#!/usr/bin/env bash
# Stop the one-node CI SLURM cluster started by .ci/slurm/start.sh.
# Cancels jobs still queued/running, then stops slurmd, slurmctld and munged by the PIDs in their
# PID files (never by process name). Already-stopped daemons and missing PID files are fine.
set -uo pipefail

if [ "$(id -u)" -ne 0 ]; then
    exec sudo bash "$0" "$@"
fi

log() { echo "[slurm-ci] $*"; }

# shellcheck source=pids.sh
source "$(dirname "$0")/pids.sh"

# Leftover jobs (e.g. a CI run that was killed): cancel them by job id, so no slurmstepd stays behind.
if alive /run/slurmctld.pid slurmctld && command -v squeue >/dev/null; then
    JOBS="$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')"
    if [ -n "${JOBS// /}" ]; then
        log "cancelling jobs: $JOBS"
        # shellcheck disable=SC2086
        scancel $JOBS 2>/dev/null || true
        for i in $(seq 1 30); do
            [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
fi

stop_pid /run/slurmd.pid slurmd
stop_pid /run/slurmctld.pid slurmctld
stop_pid /run/munge/munged.pid munged
exit 0
