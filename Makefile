# The logic lives in scripts/: see README.md.
.PHONY: run test bench api-fuzz bench-tickets bench-api bench-webhooks

# Serve http://127.0.0.1:8000 with the demo data and a background worker (Ctrl-C stops both).
run:
	bash scripts/run.sh

# The whole test suite (browser tests included). Extra pytest arguments: make test ARGS="-k capacity".
test:
	bash scripts/test.sh $(ARGS)

# Registration throughput against PostgreSQL (see bench/README.md). Extra arguments: make bench ARGS="-n 2000".
bench:
	bash scripts/bench.sh $(ARGS)

# The API against its own OpenAPI document with schemathesis (no 5xx, answers as the spec says).
api-fuzz:
	bash scripts/api_fuzz.sh $(ARGS)

# Ticket PDFs: first, warm, 500 in bulk vs one by one, stored download p95 (see bench/README.md).
bench-tickets:
	bash scripts/bench.sh tickets $(ARGS)

# API lists (events, registrations) vs a bare Django JSON view, SQLite then PostgreSQL (see bench/README.md).
bench-api:
	bash scripts/bench.sh api $(ARGS)

# Webhook deliveries: 2000 changes delivered by two qcluster processes on PostgreSQL + Redis (see bench/README.md).
bench-webhooks:
	bash scripts/bench.sh webhooks $(ARGS)
