# Makefile - chat.fcgi and chat-poller; `make help` lists the targets.
CC       ?= cc
CFLAGS   ?= -O2 -g
WERROR   ?= -Werror
WARN      = -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wwrite-strings -Wformat=2 -Wvla \
            -Wcast-qual -Wpointer-arith
# Generated sources: the same for every build (tools/lua2c.sh).
GEN = build/gen
ALL_CPPFLAGS = -I. -I$(GEN) -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
               $(CPPFLAGS)
ALL_CFLAGS   = -std=c11 $(WARN) $(WERROR) $(SAN) -MMD -MP $(CFLAGS)
ALL_LDFLAGS  = $(SAN) $(LDFLAGS)

ifeq ($(SANITIZE),1)
BUILD := build/asan
SAN    = -fsanitize=address,undefined -fno-sanitize-recover=all \
         -fno-omit-frame-pointer
else
BUILD := build/release
endif

COMMON_SRC = $(wildcard common/*.c)
FCGI_SRC   = $(wildcard fcgi/*.c)
POLLER_SRC = $(wildcard poller/*.c)
UNIT_SRC   = $(wildcard tests/unit/*.c)
BENCH_SRC  = $(wildcard bench/*.c)

COMMON_OBJ = $(COMMON_SRC:%.c=$(BUILD)/%.o)
FCGI_OBJ   = $(FCGI_SRC:%.c=$(BUILD)/%.o)
POLLER_OBJ = $(POLLER_SRC:%.c=$(BUILD)/%.o)

COMMON_LIBS = -lhiredis -ljson-c -luuid -lsodium -lnettle -licui18n -licuuc
FCGI_LIBS   = -lfcgi $(COMMON_LIBS) -lpthread
POLLER_LIBS = -levent $(COMMON_LIBS)

PROGRAMS = $(BUILD)/chat.fcgi
ifneq ($(POLLER_SRC),)
PROGRAMS += $(BUILD)/chat-poller
endif
UNIT_BINS = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BINS = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

# The front server of `make run`: lighttpd, apache, nginx, cgi (lighttpd
# mod_cgi), apache-cgi (mod_cgid) or shared (Apache + .htaccess); TLS=1:
# lighttpd over HTTPS with HTTP/2 (docs/deploy.md).
SERVER ?= lighttpd
TLS ?= 0

.PHONY: all deps run test lint format clean help bench fuzz fuzz-build
# keep objects of pattern-chained targets (tests, bench helpers)
.SECONDARY:

all: $(PROGRAMS) $(UNIT_BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# The Lua scripts (common/lua/: the prelude and one file per operation) as
# the texts Redis runs, in $(GEN)/lua/, and as C arrays for store.c.
LUA_OPS = $(filter-out common/lua/prelude.lua,$(wildcard common/lua/*.lua))

# (common/lua itself: a file removed)
$(GEN)/lua_scripts.h: tools/lua2c.sh common/lua common/lua/prelude.lua $(LUA_OPS)
	bash tools/lua2c.sh $(GEN) common/lua/prelude.lua $(LUA_OPS)

$(BUILD)/common/store.o build/fuzz/common/store.o: $(GEN)/lua_scripts.h

$(BUILD)/chat.fcgi: $(FCGI_OBJ) $(COMMON_OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(FCGI_LIBS)

$(BUILD)/chat-poller: $(POLLER_OBJ) $(COMMON_OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(POLLER_LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(COMMON_LIBS)

# Benchmark helpers: small stand-alone programs (libfcgi for the baseline).
$(BUILD)/bench/%: $(BUILD)/bench/%.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lfcgi -lpthread

# Fuzzing: libFuzzer targets tests/fuzz/*.c over common/, built with clang
# (ASan/UBSan) into build/fuzz apart from the gcc builds. `make fuzz` runs
# each for FUZZ_SECONDS with the seeds of tests/fuzz/corpus/<target>; new
# inputs go to build/fuzz/corpus/<target>, crashes to build/fuzz/crashes.
FUZZ_CC      ?= clang
FUZZ_CFLAGS  ?= -O1 -g
FUZZ_SECONDS ?= 30
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
FUZZ_SRC      = $(wildcard tests/fuzz/*.c)
FUZZ_BINS     = $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_OBJ      = $(COMMON_SRC:%.c=build/fuzz/%.o)

build/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(ALL_CPPFLAGS) -std=c11 $(WARN) $(WERROR) $(FUZZ_SAN) \
	    -fsanitize=fuzzer-no-link -MMD -MP $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BINS): build/fuzz/%: build/fuzz/tests/fuzz/%.o $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(COMMON_LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz:
	@CHAT_WITH_FUZZ=1 bash tools/deps.sh
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash tools/fuzz.sh

# apache2 + mod_fcgid, nginx or lighttpd's TLS module only when `make run`
# needs them
deps:
	@$(if $(filter apache apache-cgi shared,$(SERVER)),CHAT_WITH_APACHE=1) \
	 $(if $(filter nginx,$(SERVER)),CHAT_WITH_NGINX=1) \
	 $(if $(filter 1,$(TLS)),CHAT_WITH_TLS=1) bash tools/deps.sh

# Installs what is missing, builds, starts Redis + chat-poller + the front
# server (SERVER=lighttpd|apache|nginx|cgi|apache-cgi|shared, TLS=1) on
# http://127.0.0.1:8080 (https with TLS=1) with data in ./var; Ctrl-C stops
# everything.
run: deps all
	@SERVER=$(SERVER) TLS=$(TLS) bash tools/stack.sh run

# Installs what is missing, builds both ways, runs every suite against real
# servers; the last line is "N passed, N failed".
test: deps
	@bash tools/test.sh

lint:
	@bash tools/lint.sh

format:
	clang-format -i $(COMMON_SRC) $(FCGI_SRC) $(POLLER_SRC) $(UNIT_SRC) \
	    $(FUZZ_SRC) $(wildcard common/*.h fcgi/*.h poller/*.h tests/fuzz/*.h)

# Speed figures side by side with their baselines (see docs/).
bench: deps all $(BENCH_BINS)
	@for b in bench/*.sh; do CHAT_WITH_BENCH=1 bash tools/deps.sh && bash "$$b"; done

clean:
	rm -rf build

help:
	@echo "make run [SERVER=lighttpd|apache|nginx|cgi|apache-cgi|shared] [TLS=1] | test | lint | format | bench | fuzz [FUZZ_SECONDS=30] | clean  [SANITIZE=1]"

-include $(shell find build -name '*.d' 2>/dev/null)
