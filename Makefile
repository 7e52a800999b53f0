# OpenTSE top-level commands; the build itself is Meson + Ninja in $(BUILD).
PREFIX ?= /usr/local
BUILD ?= build
DEMO_DIR ?= demo-data

.PHONY: all deps build run test test-sanitize bench fuzz fuzz-build install deb clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# opentsed with a demo organization, TSS and client; prints a curl example.
run: build
	$(BUILD)/src/server/opentsed --demo --data-dir $(DEMO_DIR) --listen 127.0.0.1:8080

test: build
	meson test -C $(BUILD) --print-errorlogs
	if command -v clang >/dev/null 2>&1; then $(MAKE) fuzz FUZZ_SECONDS=10; fi

# The same tests built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-sanitize: deps
	[ -f $(BUILD)-sanitize/build.ninja ] || meson setup $(BUILD)-sanitize -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C $(BUILD)-sanitize
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 meson test -C $(BUILD)-sanitize --print-errorlogs

# libFuzzer harnesses of tests/fuzz, FUZZ_SECONDS each, built by clang with
# ASan, UBSan and coverage in $(BUILD)-fuzz (`make test` runs them 10 s each).
FUZZ_SECONDS ?= 600
fuzz-build: deps
	[ -f $(BUILD)-fuzz/build.ninja ] || CC=clang meson setup $(BUILD)-fuzz -Dfuzz=true -Dtests=false -Dwerror=false \
	  -Db_sanitize=address,undefined -Db_lundef=false -Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=all"
	ninja -C $(BUILD)-fuzz fuzzers

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) meson test -C $(BUILD)-fuzz --no-rebuild --suite fuzz --print-errorlogs

bench: build
	bench/run.sh $(BUILD)

install: build
	meson configure $(BUILD) -Dprefix=$(PREFIX)
	meson install -C $(BUILD) --destdir "$(DESTDIR)"

# Debian packages opentse, libopentse0, libopentse-dev in $(BUILD)/deb/
# (dpkg-buildpackage on a copy of the tree; see debian/).
deb: deps
	scripts/make-deb.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-sanitize $(BUILD)-fuzz $(DEMO_DIR)
