# The logic lives in scripts/: see README.md.
.PHONY: run test bench

# Serve http://127.0.0.1:8000 with the demo data and a background worker (Ctrl-C stops both).
run:
	bash scripts/run.sh

# The whole test suite (browser tests included). Extra pytest arguments: make test ARGS="-k capacity".
test:
	bash scripts/test.sh $(ARGS)

# Registration throughput against PostgreSQL (see bench/README.md). Extra arguments: make bench ARGS="-n 2000".
bench:
	bash scripts/bench.sh $(ARGS)
