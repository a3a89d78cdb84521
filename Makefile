# Shortcuts; scripts/test.sh is the one full test command (CI runs it).
MODULE := $(shell go list -m)
UNIT_PKGS = $(shell go list ./... | grep -v '^$(MODULE)/test\(/\|$$\)')

.PHONY: test unit images build run lint image client

test:
	./scripts/test.sh

unit:
	go test -race -count=1 $(UNIT_PKGS)

images:
	./scripts/build-images.sh

# client packs the npm package web/client and installs it into the browser
# tests' harness (web/e2e), where the browser tests in ./test load it.
client:
	cd web/e2e && npm ci --no-audit --no-fund
	./scripts/pack-client.sh

build:
	go build -o bin/chute ./cmd/chute

run:
	go run ./cmd/chute

# image builds chute:local (Dockerfile) from a static host build.
image:
	./scripts/build-image.sh

lint:
	@out="$$(find . -name '*.go' -not -path './vendor/*' -not -path '*/testdata/*' -print0 | xargs -0 -r gofmt -l)"; \
		if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
