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

bench: ## run the end-to-end benchmarks and print one table
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m $(PKGS)

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

demo: build ## watch a campaign go out, get interrupted, resume, and query it (embedded Postgres + simulator)
	./smsblast demo
