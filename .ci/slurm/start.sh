#!/usr/bin/env bash
# Start a one-node SLURM cluster on localhost for CI (Debian/Ubuntu, no systemd needed).
#
#   bash .ci/slurm/start.sh     # installs packages if needed, writes config, starts daemons
#   bash .ci/slurm/stop.sh      # stops them again (by PID file)
#
# Node "localhost" (127.0.0.1), partition "debug" (default), no accounting (no slurmdbd), and a
# fake GPU: gres "gpu" backed by /dev/null, so `--gpus=1` / `--gres=gpu:1` jobs schedule for real.
# Snakemake must use `slurm-status-command: squeue` with this cluster (see profiles/slurm-ci).
#
# Idempotent: re-running it keeps running daemons if the config did not change, restarts them if it
# did, and resumes a drained/down node. Fails loudly (exit 1 + logs) if the node is not up in time.
#
# Environment knobs:
#   SLURM_CI_CPUS=2       CPUs of the node (clamped to what `slurmd -C` reports)
#   SLURM_CI_GPUS=1       number of fake GPUs (1-3; backed by /dev/null, /dev/zero, /dev/full)
#   SLURM_CI_TIMEOUT=30   seconds to wait for the node to become idle
set -euo pipefail

# Daemons and config need root; re-run through sudo (e.g. on GitHub-hosted runners).
if [ "$(id -u)" -ne 0 ]; then
    exec sudo --preserve-env=SLURM_CI_CPUS,SLURM_CI_GPUS,SLURM_CI_TIMEOUT bash "$0" "$@"
fi

CPUS_WANTED="${SLURM_CI_CPUS:-2}"
GPUS="${SLURM_CI_GPUS:-1}"
TIMEOUT="${SLURM_CI_TIMEOUT:-30}"
NODE=localhost
CONF_DIR=/etc/slurm
LOG_DIR=/var/log/slurm
MUNGE_PID=/run/munge/munged.pid
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid

log() { echo "[slurm-ci] $*"; }
die() { echo "[slurm-ci] ERROR: $*" >&2; diagnostics >&2; exit 1; }

diagnostics() {
    echo "----- diagnostics -----"
    sinfo -N -l 2>&1 || true
    sinfo -R 2>&1 || true
    scontrol show node "$NODE" 2>&1 || true
    for f in "$LOG_DIR"/slurmctld.log "$LOG_DIR"/slurmd.log "$LOG_DIR"/*.stderr /var/log/munge/munged.log; do
        [ -s "$f" ] || continue
        echo "----- tail $f -----"; tail -n 30 "$f"
    done
}

# shellcheck source=pids.sh
source "$(dirname "$0")/pids.sh"

# ---------------------------------------------------------------- packages
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
   || ! command -v sinfo >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurmctld slurmd slurm-client munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge
fi

# ---------------------------------------------------------------- munge
if [ ! -s /etc/munge/munge.key ]; then   # normally created by the munge package's postinst
    log "creating /etc/munge/munge.key"
    mkdir -p /etc/munge
    if command -v mungekey >/dev/null; then
        mungekey --create --keyfile=/etc/munge/munge.key --force
    else
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
chmod 0755 /run/munge
if alive "$MUNGE_PID" munged; then
    log "munged already running (pid $(cat "$MUNGE_PID"))"
else
    log "starting munged"
    # stdio away from the caller: a daemon holding a pipe open would hang `start.sh | tee ...`
    runuser -u munge -- /usr/sbin/munged </dev/null >/dev/null 2>>"/var/log/munge/munged.stderr" \
        || die "munged failed to start"
fi
for i in $(seq 1 50); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
munge -n </dev/null | unmunge >/dev/null || die "munge does not work (munge -n | unmunge failed)"

# ---------------------------------------------------------------- config
# Hardware as slurmd sees it; RealMemory must not exceed it, or the node is drained ("Low RealMemory").
HW="$(slurmd -C 2>/dev/null | head -n 1)"
HW_MEM="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$HW")"
HW_CPUS="$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$HW")"
[ -n "$HW_MEM" ] && [ -n "$HW_CPUS" ] || die "could not parse 'slurmd -C' output: $HW"
# keep 10 % (at least 512 MB) for the OS; on tiny machines use half
if [ "$HW_MEM" -gt 2048 ]; then
    MARGIN=$(( HW_MEM / 10 )); [ "$MARGIN" -lt 512 ] && MARGIN=512
    MEM=$(( HW_MEM - MARGIN ))
else
    MEM=$(( HW_MEM / 2 ))
fi
CPUS="$CPUS_WANTED"
if [ "$CPUS" -gt "$HW_CPUS" ]; then
    log "WARNING: only $HW_CPUS CPUs here, using CPUs=$HW_CPUS instead of $CPUS"
    CPUS="$HW_CPUS"
fi
case "$GPUS" in 1|2|3) ;; *) die "SLURM_CI_GPUS must be 1, 2 or 3 (got '$GPUS')" ;; esac

mkdir -p "$CONF_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
cat >"$TMP/slurm.conf" <<CONF
# Written by .ci/slurm/start.sh -- one-node CI cluster, do not edit by hand.
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
GresTypes=gpu
# no cgroup dependency (containers, gVisor)
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# no slurmdbd: sacct does not work, snakemake must use --slurm-status-command squeue
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
# cons_tres is needed for --gpus
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# finished jobs stay visible to squeue for 300 s; must exceed the plugin's max poll interval (180 s)
MinJobAge=300
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM Gres=gpu:$GPUS State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
{
    echo "# Written by .ci/slurm/start.sh -- fake GPUs (File= must be a character device)."
    echo "AutoDetect=off"
    n=0
    for dev in /dev/null /dev/zero /dev/full; do
        [ "$n" -lt "$GPUS" ] || break
        echo "NodeName=$NODE Name=gpu File=$dev"
        n=$(( n + 1 ))
    done
} >"$TMP/gres.conf"

CHANGED=0
for f in slurm.conf gres.conf; do
    if ! cmp -s "$TMP/$f" "$CONF_DIR/$f"; then
        install -m 0644 "$TMP/$f" "$CONF_DIR/$f"
        CHANGED=1
        log "wrote $CONF_DIR/$f"
    fi
done

# ---------------------------------------------------------------- slurmctld, slurmd
if [ "$CHANGED" = 1 ]; then   # new config: restart whatever runs with the old one
    stop_pid "$SLURMD_PID" slurmd
    stop_pid "$CTLD_PID" slurmctld
fi
if alive "$CTLD_PID" slurmctld; then
    log "slurmctld already running (pid $(cat "$CTLD_PID"))"
else
    log "starting slurmctld"
    slurmctld </dev/null >/dev/null 2>>"$LOG_DIR/slurmctld.stderr" || die "slurmctld failed to start"
fi
for i in $(seq 1 50); do scontrol ping 2>/dev/null | grep -q 'is UP' && break; sleep 0.2; done
scontrol ping 2>/dev/null | grep -q 'is UP' || die "slurmctld does not answer (scontrol ping)"
if alive "$SLURMD_PID" slurmd; then
    log "slurmd already running (pid $(cat "$SLURMD_PID"))"
else
    log "starting slurmd -N $NODE"
    # -N: the node is called "localhost", whatever $(hostname) says
    slurmd -N "$NODE" </dev/null >/dev/null 2>>"$LOG_DIR/slurmd.stderr" || die "slurmd failed to start"
fi

# ---------------------------------------------------------------- wait for the node
START=$SECONDS
RESUMED=0
STATE=""
while :; do
    # long state, minus flag suffixes like '*' (not responding) or '~' (powered down)
    STATE="$(sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n 1 | sed 's/[*~#!%$@^-]*$//')"
    case "$STATE" in
        idle|mixed|allocated|completing) break ;;
        drain*|down|fail*|inval*)
            if [ "$RESUMED" = 0 ] && [ $(( SECONDS - START )) -ge 2 ]; then
                # a drain/down state survives restarts (StateSaveLocation); the config above is fine now
                log "node is '$STATE', resuming it"
                scontrol update nodename="$NODE" state=resume 2>&1 || true
                RESUMED=1
            fi ;;
    esac
    [ $(( SECONDS - START )) -lt "$TIMEOUT" ] || die "node $NODE not idle after ${TIMEOUT}s (state: '${STATE:-none}')"
    sleep 0.5
done
log "SLURM is up: node $NODE $STATE, CPUs=$CPUS RealMemory=$MEM (hw $HW_MEM) Gres=gpu:$GPUS, partition debug"
