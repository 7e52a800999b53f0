# OpenTSE top-level commands; the build itself is Meson + Ninja in $(BUILD).
PREFIX ?= /usr/local
BUILD ?= build
DEMO_DIR ?= demo-data

.PHONY: all deps build run test bench install clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	$(BUILD)/examples/opentse-demo $(DEMO_DIR)

test: build
	meson test -C $(BUILD) --print-errorlogs

bench: build
	bench/run.sh $(BUILD)

install: build
	meson install -C $(BUILD) --destdir "$(DESTDIR)"

clean:
	rm -rf $(BUILD) $(DEMO_DIR)
