# OpenTSE top-level commands; the build itself is Meson + Ninja in $(BUILD).
PREFIX ?= /usr/local
BUILD ?= build
DEMO_DIR ?= demo-data

.PHONY: all deps build run test test-sanitize bench install deb clean

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

# The same tests built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-sanitize: deps
	[ -f $(BUILD)-sanitize/build.ninja ] || meson setup $(BUILD)-sanitize -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C $(BUILD)-sanitize
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 meson test -C $(BUILD)-sanitize --print-errorlogs

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
	rm -rf $(BUILD) $(BUILD)-sanitize $(DEMO_DIR)
