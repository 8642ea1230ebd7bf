# reexec - build, test, install.
#
#   make                 the libraries and the examples
#   make check           build and run every test suite and example
#   make check-forkserver  the suites again, children from the fork server
#   make check-asan      the same under AddressSanitizer and UBSan
#   make check-tsan      the same under ThreadSanitizer
#   make check-valgrind  the suites under valgrind memcheck
#   make check-musl      library, examples and a contract check on musl
#   make check-format    the code as .clang-format wants it (make format)
#   make check-cppcheck  cppcheck finds nothing
#   make check-tidy      clang-tidy (.clang-tidy) finds nothing in the library
#   make check-abi       the library keeps the ABI recorded in abi/libreexec.abi
#   make abi-baseline    record the library's ABI there (a release step)
#   make fuzz            the fuzz targets (FUZZ_SECONDS=60 in all)
#   make bench           the benchmarks (bench/run.sh prints their tables)
#   make bench-trace     a fork-server round trip broken into phases
#   make install         PREFIX=/usr/local, LIBDIR=PREFIX/lib, DESTDIR honoured
#   make dist            reexec-VERSION.tar.gz, the committed tree
#   make distcheck       that tarball unpacked elsewhere builds, passes make
#                        check and installs
#
# CFLAGS, CPPFLAGS and LDFLAGS are the user's; the project's own flags are
# added beside them.

VERSION    = 0.1.0
SOVERSION  = 0

PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PCDIR      ?= $(LIBDIR)/pkgconfig
CMAKEDIR   ?= $(LIBDIR)/cmake/reexec
MANDIR     ?= $(PREFIX)/share/man

CC         ?= cc
CFLAGS     ?= -O2 -g
WERROR     ?= -Werror
BUILD      ?= build

OWN_CFLAGS  = -std=c11 -Wall -Wextra $(WERROR) -Iinclude -pthread
LIB_CFLAGS  = $(OWN_CFLAGS) -fPIC -fvisibility=hidden
CHECK_LIBS  = $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

LIB_SRC  = $(wildcard src/*.c)
LIB_OBJ  = $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
STATIC   = $(BUILD)/libreexec.a
SHARED   = $(BUILD)/libreexec.so.$(VERSION)
SONAME   = libreexec.so.$(SOVERSION)

EXAMPLES = $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
SUITES   = $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))
BENCHES  = $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))

.PHONY: dist distcheck check-abi abi-baseline abi-lib fuzz check-forkserver all all-checks check check-asan check-tsan check-valgrind check-musl check-format format check-cppcheck check-tidy bench bench-trace install uninstall clean deps

all: $(STATIC) $(SHARED) $(EXAMPLES)

$(BUILD)/obj/%.o: src/%.c src/internal.h src/trace.h include/reexec.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(LIB_CFLAGS) $(CFLAGS) -c -o $@ $<

$(STATIC): $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

# The exported symbols and their versions are declared in src/libreexec.map.
$(SHARED): $(LIB_OBJ) src/libreexec.map
	$(CC) $(LIB_CFLAGS) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) \
		-Wl,--version-script,src/libreexec.map -o $@ $(LIB_OBJ) -pthread
	ln -sf libreexec.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf libreexec.so.$(VERSION) $(BUILD)/libreexec.so

$(BUILD)/examples/%: examples/%.c $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(OWN_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(STATIC)

$(BUILD)/tests/helpers.o: tests/helpers.c tests/helpers.h include/reexec.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(OWN_CFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/test_%: tests/test_%.c $(BUILD)/tests/helpers.o $(STATIC)
	$(CC) $(CPPFLAGS) $(OWN_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< \
		$(BUILD)/tests/helpers.o $(STATIC) $(CHECK_LIBS)

# Statically linked and built from the sources with plain flags, so that it
# runs in an empty root whatever the build (sanitizers cannot link -static).
$(BUILD)/tests/static_probe: tests/static_probe.c $(LIB_SRC) src/internal.h include/reexec.h
	@mkdir -p $(@D)
	$(CC) $(OWN_CFLAGS) -O2 -static -o $@ tests/static_probe.c $(LIB_SRC)

$(BUILD)/bench/%: bench/%.c bench/common.h $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(OWN_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(STATIC) -lm

deps:
	@sh tests/need-tools.sh

check: deps
	@$(MAKE) --no-print-directory all-checks
	@sh tests/run.sh $(BUILD) $(RUNNER)

# (A recipe, even an empty one, so that make has nothing to say when all
# is built already.)
all-checks: all $(SUITES) $(BUILD)/tests/static_probe $(BUILD)/tests/forge $(BENCHES)
	@:

# A program that starts ours with a channel of its own making.
$(BUILD)/tests/forge: tests/forge.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(OWN_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $<

# The same suites with every child forked by the fork server.
check-forkserver: deps
	@$(MAKE) --no-print-directory all-checks
	@TEST_FORKSERVER=1 sh tests/run.sh $(BUILD) $(RUNNER)

check-asan:
	@TEST_SANITIZER=asan $(MAKE) --no-print-directory check BUILD=build-asan \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined"

check-tsan:
	@TEST_SANITIZER=tsan $(MAKE) --no-print-directory check BUILD=build-tsan \
		CFLAGS="-O1 -g -fsanitize=thread" LDFLAGS="-fsanitize=thread"

# Static analysis: cppcheck with the suppressions in .cppcheck-suppressions
# over all the code, clang-tidy with .clang-tidy over the library; both
# must be silent.
check-cppcheck:
	cppcheck --quiet --enable=warning,style,performance,portability --std=c11 \
		-Iinclude --inline-suppr --suppressions-list=.cppcheck-suppressions \
		--error-exitcode=1 -D__linux__ -D__GLIBC__=2 -D__GLIBC_MINOR__=36 \
		src/ examples/ bench/ tests/

check-tidy:
	clang-tidy --quiet $(LIB_SRC) -- -std=c11 -Iinclude -pthread

FORMATTED = $(wildcard src/*.c src/*.h include/*.h tests/*.c tests/*.h examples/*.c bench/*.c)
check-format:
	clang-format --dry-run -Werror $(FORMATTED)

format:
	clang-format -i $(FORMATTED)

# The library, the examples and a cmocka-free check of the contract, built
# and run against musl (musl-gcc, from Debian's musl-tools).
MUSL_BUILD = build-musl
check-musl:
	@command -v musl-gcc >/dev/null 2>&1 || { echo "check-musl: musl-gcc is missing: apt-get install musl-tools" >&2; exit 1; }
	@$(MAKE) --no-print-directory $(MUSL_BUILD)/libreexec.a \
		$(patsubst $(BUILD)/%,$(MUSL_BUILD)/%,$(EXAMPLES)) \
		BUILD=$(MUSL_BUILD) CC=musl-gcc
	@mkdir -p $(MUSL_BUILD)/tests
	musl-gcc $(OWN_CFLAGS) $(CFLAGS) -DHELPERS_NO_CMOCKA -o $(MUSL_BUILD)/tests/musl_check \
		tests/musl_check.c tests/helpers.c $(MUSL_BUILD)/libreexec.a
	@for c in examples/check-*.sh; do \
		sh $$c $(MUSL_BUILD)/examples || exit 1; echo "musl: $$c ok"; done
	$(MUSL_BUILD)/tests/musl_check

check-valgrind:
	@TEST_TIMER_US=20000 TEST_UNDER_VALGRIND=1 $(MAKE) --no-print-directory check BUILD=build-valgrind \
		RUNNER="valgrind -q --error-exitcode=70 --leak-check=full --errors-for-leak-kinds=definite,possible"

# The ABI (abidw and abidiff, from abigail-tools). abi/libreexec.abi holds
# what abidw saw in the library of the last release; the library compared
# with it is built in its own directory with fixed flags (-O2 -g: abidw
# reads the debug information; none of the user's), so that the baseline
# and each check are made the same way on any machine.
ABI_BUILD    = build-abi
ABI_BASELINE = abi/libreexec.abi
ABI_LIB      = $(ABI_BUILD)/libreexec.so.$(VERSION)

abi-lib:
	@$(MAKE) --no-print-directory -s $(ABI_LIB) BUILD=$(ABI_BUILD) \
		CFLAGS="-O2 -g" CPPFLAGS= LDFLAGS=

check-abi: abi-lib
	@sh abi/check.sh $(ABI_BASELINE) $(ABI_LIB) include

abi-baseline: abi-lib
	abidw --no-corpus-path --no-comp-dir-path --type-id-style hash \
		--headers-dir include --drop-private-types \
		--out-file $(ABI_BASELINE) $(ABI_LIB)

# The libFuzzer targets, for FUZZ_SECONDS in all: tests/fuzz_wire.c (what
# a child parses: the pure parsers; a third of the time, from the seeds in
# tests/fuzz-seeds) and tests/fuzz_chan.c (the parent's channel reader and
# a start's reading of the fork server's answer, fed over a real socket
# pair; the rest, from tests/fuzz-seeds-chan). Any crash, leak or
# sanitizer report fails.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_FLAGS    = -std=c11 -g -O1 -Iinclude -pthread \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_RUN      = -rss_limit_mb=4096 -print_final_stats=1
fuzz:
	@mkdir -p build-fuzz/corpus build-fuzz/corpus-chan
	$(FUZZ_CC) $(FUZZ_FLAGS) -o build-fuzz/fuzz_wire tests/fuzz_wire.c src/wire.c
	$(FUZZ_CC) $(FUZZ_FLAGS) -o build-fuzz/fuzz_chan tests/fuzz_chan.c \
		$(filter-out src/forkserver.c,$(LIB_SRC))
	build-fuzz/fuzz_wire -max_total_time=$$(($(FUZZ_SECONDS) / 3)) $(FUZZ_RUN) \
		build-fuzz/corpus tests/fuzz-seeds
	build-fuzz/fuzz_chan -max_total_time=$$(($(FUZZ_SECONDS) - $(FUZZ_SECONDS) / 3)) \
		$(FUZZ_RUN) build-fuzz/corpus-chan tests/fuzz-seeds-chan

bench: $(BENCHES)
	@sh bench/run.sh $(BUILD)

# One fork-server round trip broken into phases: a build of its own with
# the marks of src/trace.h compiled in (TRACE_ROUNDS round trips a kind).
bench-trace:
	@$(MAKE) --no-print-directory BUILD=build-trace \
		CFLAGS="$(CFLAGS) -DREEXEC_TRACE" build-trace/bench/spawn
	@build-trace/bench/spawn trace $(or $(TRACE_ROUNDS),500)

# What the installed pkg-config and CMake files are told (make install
# writes them from reexec.pc.in and cmake/*.cmake.in).
SUBST = -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@CMAKEDIR@|$(CMAKEDIR)|g' \
	-e 's|@VERSION@|$(VERSION)|g' -e 's|@VERSION_MAJOR@|$(firstword $(subst ., ,$(VERSION)))|g' \
	-e 's|@SONAME@|$(SONAME)|g' \
	-e "s|@SIZEOF_VOID_P@|$$($(CC) $(CFLAGS) -dM -E -x c /dev/null | sed -n 's/^\#define __SIZEOF_POINTER__ //p')|g"
CMAKE_FILES = reexecConfig.cmake reexecConfigVersion.cmake

install: $(STATIC) $(SHARED)
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PCDIR) \
		$(DESTDIR)$(CMAKEDIR) $(DESTDIR)$(MANDIR)/man3
	install -m 644 man/*.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 644 include/reexec.h $(DESTDIR)$(INCLUDEDIR)/reexec.h
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/libreexec.a
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/libreexec.so.$(VERSION)
	ln -sf libreexec.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf libreexec.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libreexec.so
	sed $(SUBST) reexec.pc.in > $(DESTDIR)$(PCDIR)/reexec.pc
	chmod 644 $(DESTDIR)$(PCDIR)/reexec.pc
	for f in $(CMAKE_FILES); do \
		sed $(SUBST) cmake/$$f.in > $(DESTDIR)$(CMAKEDIR)/$$f && \
		chmod 644 $(DESTDIR)$(CMAKEDIR)/$$f || exit 1; done

# The release tarball: the committed tree (git archive HEAD, so the same
# commit gives the same file), all that building and testing need, no .git.
DIST = reexec-$(VERSION)
dist:
	@git rev-parse --verify -q HEAD >/dev/null || { echo "dist: needs the git repository" >&2; exit 1; }
	@[ -z "$$(git status --porcelain)" ] || echo "dist: uncommitted changes are not in $(DIST).tar.gz" >&2
	git archive --format=tar --prefix=$(DIST)/ HEAD | gzip -n -9 >$(DIST).tar.gz

distcheck: dist
	@sh tests/distcheck.sh $(DIST)

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/reexec.h $(DESTDIR)$(LIBDIR)/libreexec.a \
	      $(DESTDIR)$(LIBDIR)/libreexec.so.$(VERSION) \
	      $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libreexec.so \
	      $(DESTDIR)$(PCDIR)/reexec.pc $(CMAKE_FILES:%=$(DESTDIR)$(CMAKEDIR)/%)
	rm -f $(patsubst man/%,$(DESTDIR)$(MANDIR)/man3/%,$(wildcard man/*.3))

clean:
	rm -rf build build-asan build-tsan build-valgrind build-musl build-fuzz build-trace $(ABI_BUILD)
	rm -f $(DIST).tar.gz
