# smsblast — run `make` for the list of targets.
.DEFAULT_GOAL := help
GO ?= go
PKGS := ./...

.PHONY: help build test bench lint demo

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-6s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build ./smsblast
	$(GO) build -o smsblast ./cmd/smsblast

test: ## run every test against real PostgreSQL and the Twilio simulator (race detector on)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

# The end-to-end benchmarks behind the README's Performance table. Each times
# its baseline in the same run; the 1M-row ones need SMSBLAST_BENCH_1M, the
# dashboard's 10M-recipient campaign SMSBLAST_BENCH_10M (about 6 minutes to load).
BENCH_E2E := Import1M|SendEndToEnd|SendRate|SendRegisteredSender|ClaimWithWindows|ResumeHalfDone1M|SendMemory|StatusCallbacks|CampaignsPage1000|CampaignPageBig

bench: ## run the end-to-end benchmarks (a few minutes) and print one table; raw output in bench.txt
	SMSBLAST_BENCH_1M=1 SMSBLAST_BENCH_10M=1 $(GO) test -run '^$$' -bench '$(BENCH_E2E)' -benchtime 1x -timeout 45m \
		./campaign/csvimport ./campaign/send ./cmd/smsblast ./cmd/smsblast/dashboard > bench.txt || { cat bench.txt; exit 1; }
	@awk '/^Benchmark/ { sub(/-[0-9]+$$/, "", $$1); printf "%-44s", $$1; \
		for (i = 5; i < NF; i += 2) printf "  %s %s", $$i, $$(i+1); print "" }' bench.txt

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

demo: build ## watch a campaign go out, get interrupted, resume, and query it (embedded Postgres + simulator)
	./smsblast demo
