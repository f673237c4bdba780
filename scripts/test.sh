#!/usr/bin/env bash
# make test: the same set-up as make run (no demo data, no server), then the whole pytest suite,
# browser tests included (Debian's /usr/bin/chromium; Playwright never downloads a browser).
# Extra arguments go to pytest: scripts/test.sh -k registration, or make test ARGS="-x tests/events".
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

ensure_system_packages
ensure_venv
ensure_requirements test
# The development database is migrated like make run does (DEBUG on unless told otherwise); the
# tests themselves make their own database.
DEBUG="${DEBUG:-1}" prepare_database_and_static

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
say "Running the test suite${DATABASE_URL:+ (DATABASE_URL=$DATABASE_URL)}${REDIS_URL:+ (REDIS_URL=$REDIS_URL)}"
status=0
"$VENV/bin/pytest" "$@" || status=$?
if ((status == 5)); then
    die "pytest collected no tests: that is a failure, not a pass."
fi
exit "$status"
