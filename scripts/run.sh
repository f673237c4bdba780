#!/usr/bin/env bash
# make run: set everything up, load the demo, then serve http://127.0.0.1:8000 with a background
# worker (django-q2's qcluster) until Ctrl-C, which stops both.
#
# Environment: DEBUG (default 1 here), HOST (127.0.0.1), PORT (8000), plus everything portal/settings.py
# reads (DATABASE_URL, REDIS_URL, ...). With DEBUG off the web server is gunicorn instead of runserver.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

export DEBUG="${DEBUG:-1}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
URL="http://$HOST:$PORT"
if ! is_true "$DEBUG"; then
    [[ -n "${SECRET_KEY:-}" ]] || die "DEBUG is off, so SECRET_KEY must be set (or run with DEBUG=1 for local development)."
    export ALLOWED_HOSTS="${ALLOWED_HOSTS:-$HOST,localhost}"
fi

listening() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

ensure_system_packages
ensure_venv
ensure_requirements run
listening && die "something already listens on $HOST:$PORT: stop it, or choose another port with PORT=8001 make run"
prepare_database_and_static
say "Loading the demo data"
demo="$(manage seed_demo)"
printf '%s\n' "$demo"

# Each server runs in its own session (setsid), hence its own process group: stopping one means
# signalling its whole group (runserver's autoreloader child, qcluster's worker processes).
PIDS=()
NAMES=()
start() {
    local name="$1"
    shift
    # Background jobs of a script start with SIGINT ignored: give it back, so Ctrl-C semantics apply.
    (
        trap - INT QUIT
        exec setsid "$@" </dev/null
    ) &
    PIDS+=("$!")
    NAMES+=("$name")
}

signal_groups() {
    local sig="$1" pid
    for pid in "${PIDS[@]}"; do
        kill "-$sig" -- "-$pid" 2>/dev/null || true
    done
}

groups_alive() {
    local pid
    for pid in "${PIDS[@]}"; do
        # any process left in the group counts, not only its leader
        if pgrep -g "$pid" >/dev/null 2>&1; then
            return 0
        fi
    done
    return 1
}

STOPPING=0
stop() {
    local code="$1"
    ((STOPPING)) && return
    STOPPING=1
    trap '' INT TERM HUP
    printf '\n'
    say "Stopping the web server and the worker"
    # SIGINT to each group's leader (runserver, the gunicorn master, the qcluster main process): each
    # stops and reaps its own children. Whatever is left of a group after 10 s gets TERM, then KILL.
    local pid
    for pid in "${PIDS[@]}"; do
        kill -INT "$pid" 2>/dev/null || true
    done
    local i
    for ((i = 0; i < 100; i++)); do
        groups_alive || break
        sleep 0.1
    done
    if groups_alive; then
        signal_groups TERM
        for ((i = 0; i < 50; i++)); do
            groups_alive || break
            sleep 0.1
        done
    fi
    groups_alive && signal_groups KILL
    wait 2>/dev/null || true
    say "Stopped"
    exit "$code"
}
trap 'stop 130' INT
trap 'stop 143' TERM
trap 'stop 129' HUP

# make does not pass SIGINT on to its recipe (Ctrl-C reaches us because a terminal signals the whole
# foreground group, but "kill -INT <make>" does not). make's own handler resets its SIGINT/SIGHUP/SIGQUIT
# to the default before waiting for us, so watching that tells us make was interrupted.
PARENT="$PPID"
parent_catch_mask() { awk '/^SigCgt:/ {print $2}' "/proc/$PARENT/status" 2>/dev/null || echo 0; }
PARENT_MASK=0
if [[ "$(cat "/proc/$PARENT/comm" 2>/dev/null)" == make ]]; then
    PARENT_MASK=$((16#$(parent_catch_mask) & 0x7))
fi
parent_interrupted() {
    [[ "$(ps -o ppid= -p $$ | tr -d ' ')" != "$PARENT" ]] && return 0  # our parent went away
    ((PARENT_MASK)) || return 1
    (((16#$(parent_catch_mask) & PARENT_MASK) != PARENT_MASK))
}

if is_true "$DEBUG"; then
    start "web server (runserver)" "$PY" manage.py runserver "$HOST:$PORT"
else
    start "web server (gunicorn)" "$VENV/bin/gunicorn" portal.wsgi:application --bind "$HOST:$PORT" \
        --worker-class gthread --workers "${WEB_WORKERS:-4}" --threads "${WEB_THREADS:-2}" --access-logfile -
fi
start "worker (qcluster)" "$PY" manage.py qcluster

health_ok() {
    (
        exec 3<>"/dev/tcp/$HOST/$PORT" || exit 1
        printf 'GET /health HTTP/1.0\r\nHost: %s\r\n\r\n' "$HOST" >&3
        read -r -t 5 status_line <&3 && [[ "$status_line" == *" 200 "* ]]
    ) 2>/dev/null
}

ready=0
for ((i = 0; i < 120; i++)); do
    if health_ok; then
        ready=1
        break
    fi
    kill -0 "${PIDS[0]}" 2>/dev/null || {
        printf 'The web server did not start (see above).\n' >&2
        stop 1
    }
    sleep 0.5
done
((ready)) || {
    printf 'The web server did not answer %s/health within 60 seconds.\n' "$URL" >&2
    stop 1
}

printf '\n\033[1;32mConvene is running at %s/\033[0m  (with a background worker: manage.py qcluster)\n' "$URL"
printf '%s\n' "$demo" | sed -n '/Demo logins/,$p'
printf 'Press Ctrl-C to stop.\n\n'

while :; do
    for idx in "${!PIDS[@]}"; do
        if ! kill -0 "${PIDS[$idx]}" 2>/dev/null; then
            printf 'The %s stopped unexpectedly.\n' "${NAMES[$idx]}" >&2
            stop 1
        fi
    done
    if parent_interrupted; then
        stop 130
    fi
    sleep 1
done
