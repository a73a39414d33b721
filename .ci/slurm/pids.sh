# Daemon helpers shared by start.sh and stop.sh (sourced; they define log()).

# alive PIDFILE COMM: true if the PID in PIDFILE runs a process whose name is COMM.
alive() {
    local pid
    [ -r "$1" ] || return 1
    pid="$(tr -dc '0-9' <"$1")"
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$2" ]
}

# stop_pid PIDFILE COMM: SIGTERM the process from PIDFILE (if it is COMM), wait <=10 s, then SIGKILL.
stop_pid() {
    local pid i
    if alive "$1" "$2"; then
        pid="$(tr -dc '0-9' <"$1")"
        log "stopping $2 (pid $pid)"
        kill "$pid" 2>/dev/null || true
        for i in $(seq 1 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
        if [ -d "/proc/$pid" ]; then
            log "$2 still alive after 10 s, sending SIGKILL"
            kill -9 "$pid" 2>/dev/null || true
        fi
    else
        log "$2 not running"
    fi
    rm -f "$1"
}
