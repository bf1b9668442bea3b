# tests/fuzz/fuzz.mk: included by the GNUmakefile (after tests/tests.mk).
#
# Every tests/fuzz/fuzz_<name>.c is a libFuzzer target with its seeds in
# tests/fuzz/corpus/<name>/ and the inputs of past crashes in
# tests/fuzz/regressions/<name>/.
#
#   make fuzz		build every target with clang and libFuzzer and run
#			each FUZZ_TIME seconds (default 60) on a copy of its
#			corpus; stops at the first crash, whose input is
#			kept in build/fuzz/run/<name>/crash/
#   make fuzz-build	build them only: build/fuzz/fuzz_<name>
#   make fuzz-replay	$(BUILD)/tests/fuzz_replay_<name>: the same targets
#			without libFuzzer, with tests/fuzz/replay.c's main(),
#			built with the flavour's compiler and flags; `make
#			check` runs them (tests/e2e/t_fuzz_replay.py)
#   make fuzz-seeds	rewrite tests/fuzz/corpus/imsg/ from fuzz_imsg.c
#
# The libraries are compiled for fuzzing by a second make of the same
# tree into build/fuzz/lib, with clang and coverage instrumentation.

FUZZ_CC		?= clang
FUZZ_TIME	?= 60
FUZZ_OUT	:= build/fuzz
FUZZ_LIBBUILD	:= $(FUZZ_OUT)/lib
FUZZ_NAMES	:= $(patsubst tests/fuzz/fuzz_%.c,%, \
		   $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS	:= $(FUZZ_NAMES:%=$(FUZZ_OUT)/fuzz_%)
FUZZ_INC	:= -Icommon $(DIRS:%=-I%)
FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS	:= -g -O1 -fno-omit-frame-pointer -std=gnu11 -D_GNU_SOURCE
FUZZ_ARCHIVES	:= $(DIRS:%=lib%.a) libcommon.a

# longest input each target is given
FUZZ_MAXLEN_conf	:= 8192
FUZZ_MAXLEN_packet	:= 512
FUZZ_MAXLEN_update	:= 16384
FUZZ_MAXLEN_ports	:= 1024
FUZZ_MAXLEN_imsg	:= 40000
FUZZ_MAXLEN_fleet	:= 20000

fuzz-build: $(FUZZ_BINS)

# every library, instrumented; the sub-make knows when to rebuild
fuzz-libs:
	$(MAKE) --no-print-directory BUILD=$(FUZZ_LIBBUILD) CC=$(FUZZ_CC) \
	    SANITIZE=0 TESTHOOKS=0 OPT='-g -O1 -fno-omit-frame-pointer' \
	    HARDEN= HARDEN_LD= \
	    CFLAGS='-fsanitize=fuzzer-no-link $(FUZZ_SAN)' \
	    $(FUZZ_ARCHIVES:%=$(FUZZ_LIBBUILD)/%)

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) fuzz-libs
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) $(FUZZ_INC) \
	    $(PKG_CFLAGS) -o $@ $< -Wl,--start-group \
	    $(FUZZ_ARCHIVES:%=$(FUZZ_LIBBUILD)/%) -Wl,--end-group \
	    $(call lib_of,$(PKGS))

define FUZZ_RUN_template
fuzz-run-$(1): $(FUZZ_OUT)/fuzz_$(1)
	@rm -rf $(FUZZ_OUT)/run/$(1)
	@mkdir -p $(FUZZ_OUT)/run/$(1)/corpus $(FUZZ_OUT)/run/$(1)/crash
	@cp tests/fuzz/corpus/$(1)/* $(FUZZ_OUT)/run/$(1)/corpus/
	@for f in tests/fuzz/regressions/$(1)/*; do \
		case "$$$${f##*/}" in README*) continue ;; esac; \
		[ -f "$$$$f" ] && cp "$$$$f" $(FUZZ_OUT)/run/$(1)/corpus/; \
	done; true
	@echo "fuzz_$(1): $(FUZZ_TIME) s, log in $(FUZZ_OUT)/run/$(1)/log"
	@if $(FUZZ_OUT)/fuzz_$(1) -max_total_time=$(FUZZ_TIME) \
	    -max_len=$(or $(FUZZ_MAXLEN_$(1)),4096) -timeout=10 \
	    -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_OUT)/run/$(1)/crash/ \
	    $(FUZZ_OUT)/run/$(1)/corpus >$(FUZZ_OUT)/run/$(1)/log 2>&1; then \
		grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb|new_units_added)' \
		    $(FUZZ_OUT)/run/$(1)/log; \
	else \
		tail -n 60 $(FUZZ_OUT)/run/$(1)/log; \
		echo "fuzz_$(1): FAILED; the input is kept in" \
		    "$(FUZZ_OUT)/run/$(1)/crash/: add it to" \
		    "tests/fuzz/regressions/$(1)/ once fixed"; \
		exit 1; \
	fi
.PHONY: fuzz-run-$(1)
endef
$(foreach n,$(FUZZ_NAMES),$(eval $(call FUZZ_RUN_template,$(n))))

fuzz: $(FUZZ_NAMES:%=fuzz-run-%)

# ------------------------------------------------------------ replay

FUZZ_REPLAY_BINS := $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz_replay_%)
FUZZ_FLAVOR_LIBS := $(DIRS:%=$(BUILD)/lib%.a) $(COMMON_LIB)

$(BUILD)/tests/fuzz_replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c \
    $(wildcard tests/fuzz/*.h) $(FUZZ_FLAVOR_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FUZZ_INC) $(ALL_LDFLAGS) -o $@ $< \
	    tests/fuzz/replay.c -Wl,--start-group $(FUZZ_FLAVOR_LIBS) \
	    -Wl,--end-group $(call lib_of,$(PKGS))

fuzz-replay: $(FUZZ_REPLAY_BINS)

# the imsg seeds follow common/pks.h: written, then replayed, by this
$(BUILD)/tests/fuzz_seeds_imsg: tests/fuzz/fuzz_imsg.c tests/fuzz/seeds_imsg.c \
    tests/fuzz/fuzz_imsg.h $(FUZZ_FLAVOR_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FUZZ_INC) $(ALL_LDFLAGS) -o $@ \
	    tests/fuzz/fuzz_imsg.c tests/fuzz/seeds_imsg.c \
	    -Wl,--start-group $(FUZZ_FLAVOR_LIBS) -Wl,--end-group \
	    $(call lib_of,$(PKGS))

fuzz-seeds: $(BUILD)/tests/fuzz_seeds_imsg
	mkdir -p tests/fuzz/corpus/imsg
	$(BUILD)/tests/fuzz_seeds_imsg tests/fuzz/corpus/imsg

.PHONY: fuzz fuzz-build fuzz-libs fuzz-replay fuzz-seeds
