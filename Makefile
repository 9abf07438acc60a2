# fusebox build. `make` builds the library, the CLI, the demo server and the
# test servers; `make demo` runs the demo; `make check` runs every test;
# `make bench` runs the benchmark. SAN=1 builds everything with
# AddressSanitizer and UndefinedBehaviorSanitizer into build-san/; `make
# check` always tests that build.

CC      ?= cc
SAN     ?= 0
BUILD   ?= build
CFLAGS_OPT ?= -O2
ifeq ($(SAN),1)
BUILD   := build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
endif

WARN    := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS  += -std=gnu11 $(CFLAGS_OPT) -g $(WARN) -D_GNU_SOURCE -Iinclude -Isrc -pthread $(SANFLAGS)
LDFLAGS += -pthread $(SANFLAGS)
LDLIBS  += -lseccomp

FUSE3_CFLAGS := $(shell pkg-config fuse3 --cflags 2>/dev/null)
FUSE3_LIBS   := $(shell pkg-config fuse3 --libs 2>/dev/null)
EXAMPLES_DIR ?= /usr/share/doc/libfuse3-dev/examples
TEST_SERVERS := hello hello_ll passthrough passthrough_ll passthrough_fh \
                notify_inval_entry notify_inval_inode invalidate_path \
                notify_store_retrieve \
                ioctl ioctl_client poll poll_client

LIB_SRC  := $(wildcard src/fuse/*.c src/vfs/*.c src/lib/*.c src/sandbox/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  := $(wildcard src/cli/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_C   := $(wildcard tests/c/*.c)
TEST_BIN := $(TEST_C:tests/c/%.c=$(BUILD)/tests/%)
TEST_LIB := $(wildcard tests/lib/*.c)
TEST_LIB_OBJ := $(TEST_LIB:%.c=$(BUILD)/%.o)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

all: $(BUILD)/libfusebox.a $(BUILD)/libfusebox.so $(BUILD)/fusebox \
     $(BUILD)/fbdemo servers $(TEST_BIN) $(BENCH_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -MMD -MP -c $< -o $@

$(BUILD)/libfusebox.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libfusebox.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/fusebox: $(CLI_OBJ) $(BUILD)/libfusebox.a
	$(CC) -o $@ $(CLI_OBJ) $(BUILD)/libfusebox.a $(LDFLAGS) $(LDLIBS)

# Our own demo server: a plain libfuse 3 low-level server.
$(BUILD)/fbdemo: examples/fbdemo.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(WARN) $(FUSE3_CFLAGS) -o $@ $< $(FUSE3_LIBS)

# Unmodified servers built from libfuse3-dev's examples folder (not ours:
# compiled without -Werror and without sanitizers).
servers: $(TEST_SERVERS:%=$(BUILD)/servers/%)
$(BUILD)/servers/%: $(EXAMPLES_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -w $(FUSE3_CFLAGS) -o $@ $< $(FUSE3_LIBS)

$(BUILD)/tests/lib/%.o: tests/lib/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/lib -MMD -MP -c $< -o $@

$(BUILD)/tests/%: tests/c/%.c $(TEST_LIB_OBJ) $(BUILD)/libfusebox.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/lib -o $@ $< $(TEST_LIB_OBJ) $(BUILD)/libfusebox.a $(LDFLAGS) $(LDLIBS)

TOOL_C := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_C:tests/tools/%.c=$(BUILD)/tools/%)
all: $(TOOL_BIN)
$(BUILD)/tools/%: tests/tools/%.c $(BUILD)/libfusebox.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libfusebox.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libfusebox.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libfusebox.a $(LDFLAGS) $(LDLIBS)

deps:
	@bash scripts/deps.sh

demo: deps
	$(MAKE) all
	bash examples/demo.sh $(BUILD)

# Tests always run on the sanitized build.
check: deps
	$(MAKE) all SAN=1
	bash tests/run.sh build-san

bench: deps
	$(MAKE) all SAN=0
	bash bench/run.sh build

clean:
	rm -rf build build-san

.PHONY: all servers deps demo check bench clean
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_LIB_OBJ:.o=.d)
