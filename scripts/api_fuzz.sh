#!/usr/bin/env bash
# The API against its own OpenAPI document: schemathesis generates requests from the spec (valid and
# invalid) and checks every answer — no 5xx, status codes, content types, headers and bodies as the
# spec declares. Runs against gunicorn on loopback with a throw-away SQLite database and the demo data.
# Arguments go to `schemathesis run` (e.g. --max-examples 50).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

ensure_system_packages
ensure_venv
ensure_requirements test

work="$ROOT_DIR/var/api-fuzz"
rm -rf "$work"
mkdir -p "$work"
port="${API_FUZZ_PORT:-8765}"
export DEBUG=0 SECRET_KEY="api-fuzz-only" ALLOWED_HOSTS="127.0.0.1" \
    DATABASE_URL="sqlite:///$work/db.sqlite3" MEDIA_ROOT="$work/media" EMAIL_URL="dummymail://" \
    WEBHOOKS_ALLOW_PRIVATE_TARGETS=1 API_RATE_LIMIT_SCALE=1000 API_USAGE=0
unset REDIS_URL

say "Preparing a throw-away database with the demo data"
"$PY" manage.py migrate --no-input -v0
"$PY" manage.py seed_demo >/dev/null
scopes="$("$PY" -c 'import django, os; os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings"); django.setup(); from accounts.models import API_SCOPES; print(",".join(API_SCOPES))')"
key="$("$PY" manage.py create_api_key --org acme --name "API fuzz" --scopes "$scopes" --tier internal 2>/dev/null)"

# One worker and no usage writer: SQLite takes one writer at a time, and unthrottled fuzzing would
# otherwise time out on the lock ("database is locked"), which is the set-up's limit, not the API's.
say "Starting the API on 127.0.0.1:$port"
"$ROOT_DIR/.venv/bin/gunicorn" portal.wsgi --bind "127.0.0.1:$port" --workers 1 --log-level warning \
    --error-logfile "$work/gunicorn.log" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.2
done

say "schemathesis against http://127.0.0.1:$port/api/v1/openapi.json (server log: var/api-fuzz/server.log)"
# Rate limits are scaled up for this server (API_RATE_LIMIT_SCALE): the fuzzer's anonymous and bad-key
# requests would otherwise exhaust the anonymous tier and get 429 where it checks for 401.
# All checks but one: "positive_data_acceptance" expects every schema-valid request to succeed, and rules no
# schema can say (an event ends after it starts, webhook URLs are https, one paging style at a time) refuse
# some of them with a documented 4xx. Server errors, undocumented codes, wrong bodies, headers or content
# types, and schema-violating requests that are accepted all fail the run.
"$ROOT_DIR/.venv/bin/schemathesis" run "http://127.0.0.1:$port/api/v1/openapi.json" \
    --header "Authorization: Bearer $key" \
    --checks all \
    --exclude-checks positive_data_acceptance \
    --max-examples "${API_FUZZ_EXAMPLES:-10}" \
    --seed 20261122 \
    --no-color \
    "$@"
