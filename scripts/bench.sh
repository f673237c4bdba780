#!/usr/bin/env bash
# make bench: the registration benchmark (bench/registrations.py) with the project's virtualenv;
# make bench-tickets (first argument "tickets"): the ticket PDF benchmark (bench/tickets.py);
# make bench-api (first argument "api"): API list speed against a bare Django JSON view (bench/api.py).
# make bench-webhooks (first argument "webhooks"): webhook delivery by two worker clusters (bench/webhooks.py).
# Arguments go to the benchmark: scripts/bench.sh -n 2000 -c 32; see bench/README.md.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

ensure_system_packages
ensure_venv
ensure_requirements run
if [[ "${1:-}" == "tickets" ]]; then  # make bench-tickets: PDF tickets (bench/tickets.py)
  shift
  exec "$PY" bench/tickets.py "$@"
fi
if [[ "${1:-}" == "api" ]]; then  # make bench-api: API lists against a bare Django view (bench/api.py)
  shift
  exec "$PY" bench/api.py "$@"
fi
if [[ "${1:-}" == "webhooks" ]]; then  # make bench-webhooks: webhook deliveries (bench/webhooks.py)
  shift
  exec "$PY" bench/webhooks.py "$@"
fi
exec "$PY" bench/registrations.py "$@"
