# Warden — the two commands: `make run` and `make test` (plus `make bench`).
# Everything they need is installed here: Debian packages once per run (one apt-get call, only if missing),
# npm packages when package-lock.json changes (native addons build against /usr's Node headers, offline).
SHELL := /bin/bash
.DEFAULT_GOAL := help

DEB_PACKAGES := softhsm2 libsystemd-dev pkg-config systemd chromium openssl curl ca-certificates python3 make g++ bsdutils libengine-pkcs11-openssl openssh-server openssh-client sshpass asciinema xrdp xorgxrdp tigervnc-standalone-server freerdp2-x11 freerdp2-shadow-x11 winpr-utils xvfb xauth xdotool ffmpeg xterm mmdebstrap packer systemd-container qemu-system-x86 qemu-utils nftables mariadb-server galera-4 mariadb-backup socat sudo postgresql slapd ldap-utils
# node-gyp builds native addons against /usr's headers instead of downloading them (also in .npmrc).
NPM_ENV := npm_config_nodedir=/usr npm_config_fund=false npm_config_audit=false

TEST_FILES = $(shell find dist/tests -name '*.test.js' | sort)
# Run again on a throwaway MariaDB (WARDEN_TEST_STORE=mariadb): the files listed in tests/mariadb-suites.txt.
MARIADB_TEST_FILES = $(shell grep -v '^\#' tests/mariadb-suites.txt | sed 's|^tests/|dist/tests/|; s|\.ts$$|.js|')

.PHONY: help deps build run test bench clean typecheck image

help:
	@echo "make run    install, build and start the appliance locally (state in ./var, https://127.0.0.1:8443, ssh on 2222)"
	@echo "make test   install, build and run every test"
	@echo "make bench  run the benchmarks"
	@echo "make image  build the appliance VM image (root; qcow2, raw, VMDK, OVA under build/image/)"

deps:
	@scripts/install-debs.sh $(DEB_PACKAGES)
	@$(MAKE) --no-print-directory node_modules/.warden-installed

node_modules/.warden-installed: package.json package-lock.json
	$(NPM_ENV) npm ci --no-audit --no-fund --loglevel=error
	@node -e "require('better-sqlite3'); require('pkcs11js')" || { echo "native modules failed to build" >&2; exit 1; }
	@# ssh2 falls back to pure JS without its binding, at half the bulk throughput: insist on it.
	@node -e "require('ssh2/lib/protocol/crypto/build/Release/sshcrypto.node')" || { echo "ssh2's native crypto binding failed to build" >&2; exit 1; }
	@touch $@

build: deps
	@rm -rf dist
	@node_modules/.bin/tsc -p tsconfig.json
	@rm -rf dist/daemons/web/public && cp -r daemons/web/public dist/daemons/web/public
	@# The web console: its own type check (DOM, JSX), then esbuild's hashed bundle into dist/daemons/web/public.
	@node_modules/.bin/tsc -p daemons/web/console/tsconfig.json
	@node scripts/build-console.mjs
	@chmod +x dist/cli/orbit/main.js dist/daemons/*/main.js

typecheck: deps
	@node_modules/.bin/tsc -p tsconfig.json --noEmit
	@node_modules/.bin/tsc -p daemons/web/console/tsconfig.json

run: build
	@node dist/daemons/supervisor/main.js

test: build
	@scripts/run-tests.sh $(TEST_FILES)
	@WARDEN_TEST_STORE=mariadb scripts/run-tests.sh $(MARIADB_TEST_FILES)

bench: build
	@node dist/bench/vault-policy.js
	@node dist/bench/login.js
	@node dist/bench/healthz-under-reads.js
	@node dist/bench/recording.js
	@node dist/bench/recording-path.js
	@node dist/bench/shell-marks.js
	@node dist/bench/rotation.js
	@node dist/bench/session-search.js
	@node dist/bench/terminal-proxy.js
	@node dist/bench/live-sessions.js
	@node dist/bench/terminal-proxy-idle.js
	@node dist/bench/rdp-render.js
	@node dist/bench/rdp-proxy.js
	@node dist/bench/cluster.js
	@node dist/bench/console-api.js
	@node dist/bench/console-devices.js
	@node dist/bench/console-load.js
	@node dist/bench/console-playback.js

# The appliance image: rootfs, disk, one packer/qemu boot, conversions (scripts/image/make-image.sh says how).
image: build
	@scripts/image/make-image.sh

clean:
	rm -rf dist
