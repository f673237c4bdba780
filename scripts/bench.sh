#!/usr/bin/env bash
# make bench: the registration benchmark (bench/registrations.py) with the project's virtualenv.
# Arguments go to the benchmark: scripts/bench.sh -n 2000 -c 32; see bench/README.md.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

ensure_system_packages
ensure_venv
ensure_requirements run
exec "$PY" bench/registrations.py "$@"
