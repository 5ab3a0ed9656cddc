# blocksnoop - find what blocks your asyncio event loop.
#
#   make                 build build/blocksnoop
#   sudo make demo       install build dependencies with apt, build, run the demo
#   sudo make test       install dependencies, build, run unit, end-to-end and fuzz tests
#                        (fetches the tests' Debian root file systems and npm
#                        packages into build/ once: make e2e-fetch)
#   sudo make test SANITIZE=1   the same, everything built with ASan + UBSan
#   make install PREFIX=/usr DESTDIR=...
#   make V=1             show the commands
#   make e2e E2E_ARGS="tests/e2e/test_x.py -k name"   a part of the end-to-end suite
#   make fuzz-long       every fuzzer for 10 million runs or 10 minutes (docs/security.md)
#
# Build pipeline (libbpf CO-RE, as in libbpf-tools):
#   vmlinux.h (from the build host's BTF) -> bpf/*.bpf.c -> .bpf.o (clang -target bpf)
#   -> .skel.h (bpftool gen skeleton) -> agent/*.c -> build/blocksnoop
# The skeleton embeds the BPF object, so nothing but libbpf, libelf, zlib,
# libcap and the C library is needed at run time: no compiler, no headers.

VERSION := 0.1.0

OUTPUT ?= build
ifeq ($(SANITIZE),1)
OUTPUT := build/sanitize
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
endif

CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
PYTHON ?= /usr/bin/python3
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin

# vmlinux.h is generated from the build host's kernel BTF rather than
# vendored: CO-RE relocates every field we touch at load time, so a header
# from any BTF-enabled kernel builds a program that runs on all of them
# (see docs/architecture.md). Point VMLINUX_BTF elsewhere to cross-build.
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' \
	-e 's/ppc64le/powerpc/' -e 's/s390x/s390/' -e 's/riscv64/riscv/')

LIBS := $(shell $(PKG_CONFIG) --libs libbpf 2>/dev/null || echo -lbpf) -lelf -lz \
	-lcjson -lcap -lm

# libcurl (agent mode's kubelet client) and libmicrohttpd (the /metrics
# server) are not linked: agent/dynlib.c loads each when a run first needs
# it, so a plain attach does not map them and the ~40 libraries they bring
# (agent/dynlib.h). The soname to load is the one linking would record: the
# SONAME of the file -lcurl links (the -dev package's symlink), read here;
# the package named in the "install ..." error owns that file (dpkg), or is
# named as Debian names library packages. Only the headers are compiled in.
# $(1): link name (curl); $(2): the soname, once known.
lib_file = $(shell $(CC) -print-file-name=lib$(1).so)
soname_of = $(shell readelf -d $(call lib_file,$(1)) 2>/dev/null | \
	sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
package_of = $(or $(shell dpkg-query -S $(dir $(realpath $(call lib_file,$(1))))$(2) \
	2>/dev/null | sed -n '1s/:.*//p'),$(shell echo $(2) | \
	sed -e 's/\([0-9]\)\.so\./\1-/' -e 's/\.so\.//'))
CURL_SONAME := $(call soname_of,curl)
MHD_SONAME := $(call soname_of,microhttpd)
CURL_PACKAGE := $(call package_of,curl,$(CURL_SONAME))
MHD_PACKAGE := $(call package_of,microhttpd,$(MHD_SONAME))
# dlopen() is in the C library from glibc 2.34; -ldl keeps older ones working.
DL_LIBS := $(if $(shell printf '\043include <dlfcn.h>\nint main(void){return !dlopen;}' | \
	$(CC) -x c - -o /dev/null 2>/dev/null && echo ok),,-ldl)
LIBS += $(DL_LIBS)
WARNINGS := -Wall -Wextra -Werror
CFLAGS ?= -O2 -g
override CFLAGS += $(WARNINGS) -std=gnu11 -D_GNU_SOURCE $(SAN_FLAGS) \
	-DBLOCKSNOOP_VERSION='"$(VERSION)"' -I$(OUTPUT) -Ibpf -Iagent -Insexec \
	-DBLOCKSNOOP_CURL_SONAME='"$(CURL_SONAME)"' -DBLOCKSNOOP_CURL_PACKAGE='"$(CURL_PACKAGE)"' \
	-DBLOCKSNOOP_MHD_SONAME='"$(MHD_SONAME)"' -DBLOCKSNOOP_MHD_PACKAGE='"$(MHD_PACKAGE)"'
override LDFLAGS += $(SAN_FLAGS)
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) $(WARNINGS) \
	-I$(OUTPUT) -Ibpf

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
AGENT_SRCS := $(wildcard agent/*.c agent/*/*.c)
AGENT_OBJS := $(patsubst agent/%.c,$(OUTPUT)/agent/%.o,$(AGENT_SRCS))
NSEXEC_SRCS := $(wildcard nsexec/*.c)
NSEXEC_OBJS := $(patsubst nsexec/%.c,$(OUTPUT)/nsexec/%.o,$(NSEXEC_SRCS))
LIB_OBJS := $(filter-out $(OUTPUT)/agent/main.o,$(AGENT_OBJS)) $(NSEXEC_OBJS)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 10
FIXTURE_SRCS := $(wildcard tests/fixtures/*.c)
FIXTURE_BINS := $(patsubst tests/fixtures/%.c,$(OUTPUT)/fixtures/%,$(FIXTURE_SRCS))

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# Debian packages each goal needs (installed by `make deps`).
DEPS_BUILD := make clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev \
	libcjson-dev libcap-dev pkg-config python3 libcurl4-openssl-dev libmicrohttpd-dev
DEPS_TEST := libcmocka-dev python3-pytest python3-uvloop python3-aiohttp gunicorn python3-uvicorn \
	libclang-rt-14-dev libcap2-bin util-linux openssl mmdebstrap \
	podman runc python3-yaml fuse-overlayfs libpython3.11 binutils strace \
	groff-base man-db bash
# Node.js and npm, for the manifests' schema check (without npm's
# recommended test framework); a host that has its own (NodeSource's nodejs,
# say, which conflicts with Debian's npm) keeps them.
DEPS_NODE := $(if $(shell command -v node >/dev/null && command -v npm),,nodejs npm)
# A headless browser that renders the flame graph files in speedscope.
DEPS_BROWSER := chromium
# A real Prometheus server, for the loop lag histogram's end-to-end test
# (tests/e2e/test_metrics.py); without its recommended web console.
DEPS_PROMETHEUS := prometheus

.PHONY: all print-dlopen-packages check-sonames clean install uninstall deps deps-test demo test unit e2e e2e-fetch fixtures fuzz fuzz-long
all: $(OUTPUT)/blocksnoop

# The packages of the libraries loaded at run time (the container image
# installs them: no NEEDED entry names them).
print-dlopen-packages:
	@echo $(CURL_PACKAGE) $(MHD_PACKAGE)

# Checked when compiling, not when this file is read: `make demo` and
# `make test` install the -dev packages first, then build in a new make.
check-sonames:
	@test -n "$(CURL_SONAME)" || { echo "cannot find libcurl.so's soname: install libcurl4-openssl-dev (make deps)" >&2; exit 1; }
	@test -n "$(MHD_SONAME)" || { echo "cannot find libmicrohttpd.so's soname: install libmicrohttpd-dev (make deps)" >&2; exit 1; }

$(OUTPUT) $(OUTPUT)/agent $(OUTPUT)/tests $(OUTPUT)/fixtures:
	$(Q)mkdir -p $@

$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c bpf/*.h $(OUTPUT)/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(OUTPUT)/agent/%.o: agent/%.c $(wildcard agent/*.h agent/*/*.h nsexec/*.h) bpf/*.h $(BPF_SKELS) | $(OUTPUT)/agent check-sonames
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/nsexec/%.o: nsexec/%.c nsexec/*.h | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# The object the program's ELF loader preloads (docs/nsexec.md), with flags
# of its own whatever SANITIZE says: no C library (it loads under the
# program's, whichever), no sanitizer runtime, no stack protector, no
# exported symbol. nsexec/preload.c embeds it in blocksnoop (.incbin).
PRELOAD_SRCS := nsexec/preload/constructor.c nsexec/enter.c
PRELOAD_FLAGS := -O2 $(WARNINGS) -std=gnu11 -Insexec -fPIC -ffreestanding -fno-builtin \
	-fno-stack-protector -fno-asynchronous-unwind-tables -fvisibility=hidden \
	-shared -nostdlib -Wl,-z,defs -Wl,-z,now -Wl,-z,noexecstack -Wl,--build-id=none -s
$(OUTPUT)/nsexec/preload.so: $(PRELOAD_SRCS) nsexec/*.h | $(OUTPUT)
	$(call msg,PRELOAD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(PRELOAD_FLAGS) $(PRELOAD_SRCS) -o $@
	$(Q)! readelf -d $@ | grep -q NEEDED # it needs no library at all
$(OUTPUT)/nsexec/preload.o: $(OUTPUT)/nsexec/preload.so
$(OUTPUT)/nsexec/preload.o: override CFLAGS += \
	-DNSEXEC_PRELOAD_SO='"$(abspath $(OUTPUT)/nsexec/preload.so)"'

$(OUTPUT)/libblocksnoop.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ # no stale members of renamed sources
	$(Q)$(AR) rcs $@ $^

$(OUTPUT)/blocksnoop: $(OUTPUT)/agent/main.o $(OUTPUT)/libblocksnoop.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LIBS) -o $@

$(OUTPUT)/tests/%: tests/unit/%.c $(OUTPUT)/libblocksnoop.a | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< $(OUTPUT)/libblocksnoop.a $(LDFLAGS) $(LIBS) -lcmocka -o $@

# Fixtures that drive blocksnoop's own modules link its library.
$(OUTPUT)/fixtures/cpython_%: tests/fixtures/cpython_%.c $(OUTPUT)/libblocksnoop.a | $(OUTPUT)/fixtures
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< $(OUTPUT)/libblocksnoop.a $(LDFLAGS) $(LIBS) -o $@
$(OUTPUT)/fixtures/detector_%: tests/fixtures/detector_%.c $(OUTPUT)/libblocksnoop.a | $(OUTPUT)/fixtures
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< $(OUTPUT)/libblocksnoop.a $(LDFLAGS) $(LIBS) -o $@

# cpython_record sees every remote read the reader makes (the walker
# fuzzer's seeds): the reader's calls of remote_readv() go to its wrapper.
$(OUTPUT)/fixtures/cpython_record: tests/fixtures/cpython_record.c $(OUTPUT)/libblocksnoop.a | $(OUTPUT)/fixtures
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< $(OUTPUT)/libblocksnoop.a $(LDFLAGS) -Wl,--wrap=remote_readv $(LIBS) -o $@

$(OUTPUT)/fixtures/%: tests/fixtures/%.c | $(OUTPUT)/fixtures
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< $(LDFLAGS) -o $@

fixtures: $(FIXTURE_BINS)

# libFuzzer targets for the code that decodes another process's memory.
# Always built with clang, ASan and UBSan, whatever SANITIZE says; each
# runs for FUZZ_SECONDS from its seed corpus (tests/fuzz/corpus/<name>/).
# A target links only the module it fuzzes, named after it:
# tests/fuzz/fuzz_<dir>_<module>.c is built with agent/<dir>/<module>.c
# (fuzz_cpython_linetable -> agent/cpython/linetable.c).
FUZZ_CFLAGS := -g -O1 $(WARNINGS) -std=gnu11 -D_GNU_SOURCE -Iagent -Ibpf \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_DIRS := $(patsubst agent/%/,%,$(sort $(dir $(wildcard agent/*/*.c))))
define fuzz_rule
build/fuzz/fuzz_$(1)_%: tests/fuzz/fuzz_$(1)_%.c agent/$(1)/%.c $$(wildcard agent/$(1)/*.h) | $(OUTPUT)
	$$(call msg,FUZZ,$$@)
	$(Q)mkdir -p $$(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $$< agent/$(1)/$$*.c $(LIBS) -o $$@
endef
$(foreach d,$(FUZZ_DIRS),$(eval $(call fuzz_rule,$(d))))
# The option parsers, each linked with the modules it calls; the harness
# builds argv (and the agent's environment) from the input.
FUZZ_OPTIONS_CLI := agent/options.c agent/numparse.c agent/listen_addr.c
FUZZ_OPTIONS_AGENT := agent/k8s/agent_options.c $(FUZZ_OPTIONS_CLI)
build/fuzz/fuzz_options_cli: tests/fuzz/fuzz_options_cli.c $(FUZZ_OPTIONS_CLI) agent/*.h | $(OUTPUT)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $< $(FUZZ_OPTIONS_CLI) -o $@
build/fuzz/fuzz_options_agent: tests/fuzz/fuzz_options_agent.c $(FUZZ_OPTIONS_AGENT) agent/*.h agent/k8s/*.h | $(OUTPUT)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $< $(FUZZ_OPTIONS_AGENT) -o $@
# The pod list names samplers as the command line does (options.c).
FUZZ_K8S_PODLIST := agent/k8s/podlist.c agent/options.c agent/numparse.c agent/listen_addr.c
build/fuzz/fuzz_k8s_podlist: tests/fuzz/fuzz_k8s_podlist.c $(FUZZ_K8S_PODLIST) agent/*.h agent/k8s/*.h | $(OUTPUT)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $< $(FUZZ_K8S_PODLIST) $(LIBS) -o $@
# nsexec/ is outside agent/: fuzz_nsexec_<module> links nsexec/<module>.c.
build/fuzz/fuzz_nsexec_%: tests/fuzz/fuzz_nsexec_%.c nsexec/%.c nsexec/*.h | $(OUTPUT)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -Insexec $< nsexec/$*.c $(LIBS) -o $@
# The stream reader hands its bytes to both parsers: it links them too.
build/fuzz/fuzz_austin_stream: tests/fuzz/fuzz_austin_stream.c agent/austin/stream.c \
		agent/austin/text.c agent/austin/mojo.c $(wildcard agent/austin/*.h) | $(OUTPUT)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(filter %.c,$^) $(LIBS) -o $@
# The frame names through both writers: flame.c with its two formats.
FUZZ_FLAME := agent/flame/flame.c agent/flame/flame_folded.c agent/flame/flame_speedscope.c
build/fuzz/fuzz_flame_flame: tests/fuzz/fuzz_flame_flame.c $(FUZZ_FLAME) $(wildcard agent/flame/*.h) | $(OUTPUT)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -DBLOCKSNOOP_VERSION='"$(VERSION)"' $< $(FUZZ_FLAME) $(LIBS) -o $@
# The pods' file names, checked against the names atomic_file.c takes; the
# sink around them links the files it writes.
FUZZ_SINK_FLAME_PODS := agent/sink_flame_pods.c agent/atomic_file.c agent/sink_lines.c agent/log.c \
	agent/flame/flame.c agent/flame/flame_folded.c agent/flame/flame_speedscope.c \
	agent/flame/flame_output.c
build/fuzz/fuzz_sink_flame_pods: tests/fuzz/fuzz_sink_flame_pods.c $(FUZZ_SINK_FLAME_PODS) agent/*.h \
		$(wildcard agent/flame/*.h) | $(OUTPUT)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -DBLOCKSNOOP_VERSION='"$(VERSION)"' $< $(FUZZ_SINK_FLAME_PODS) $(LIBS) -o $@
# ... and tests/fuzz/fuzz_<module>.c with agent/<module>.c.
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c agent/%.c agent/%.h | $(OUTPUT)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $< agent/$*.c $(LIBS) -o $@
# The stack walker's fuzzer runs the whole reader on a fake process: the
# fake remote of tests/unit/fake_remote.h stands in for
# agent/cpython/remote.c, the one file that touches a real one.
WALKER_SRCS := $(filter-out agent/cpython/remote.c,$(wildcard agent/cpython/*.c))
build/fuzz/fuzz_cpython_pyreader: tests/fuzz/fuzz_cpython_pyreader.c tests/unit/fake_remote.h \
		$(WALKER_SRCS) $(wildcard agent/cpython/*.h) | $(OUTPUT)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $< $(WALKER_SRCS) $(LIBS) -o $@

# A crash fails the goal (the exit status is not lost in a pipe); its input
# is kept as build/fuzz/<name>-crash-*, the whole log as build/fuzz/<name>.log.
fuzz: $(FUZZ_BINS)
	$(Q)set -e; for f in $(FUZZ_BINS); do n=$$(basename $$f); \
		mkdir -p build/fuzz/corpus-$$n; \
		echo "== $$n ($(FUZZ_SECONDS) s)"; \
		if ! $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
			-artifact_prefix=build/fuzz/$$n- \
			build/fuzz/corpus-$$n tests/fuzz/corpus/$$n > build/fuzz/$$n.log 2>&1; then \
			tail -40 build/fuzz/$$n.log; echo "$$n FAILED: see build/fuzz/$$n.log"; exit 1; fi; \
		tail -3 build/fuzz/$$n.log; done

# The long run, once per release and after any change to a decoder: each
# target for FUZZ_LONG_RUNS executions or FUZZ_LONG_SECONDS, whichever comes
# first; the table it prints goes into docs/security.md.
FUZZ_LONG_RUNS ?= 10000000
FUZZ_LONG_SECONDS ?= 600
fuzz-long: $(FUZZ_BINS)
	$(Q)tests/fuzz/long.sh $(FUZZ_LONG_RUNS) $(FUZZ_LONG_SECONDS) $(FUZZ_BINS) | tee build/fuzz/long.txt

# The manual page and the bash completion go with the binary
# (tests/e2e/test_manual.py checks both against --help).
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

install: $(OUTPUT)/blocksnoop
	install -D -m 0755 $(OUTPUT)/blocksnoop $(DESTDIR)$(BINDIR)/blocksnoop
	install -D -m 0644 man/blocksnoop.8 $(DESTDIR)$(MANDIR)/man8/blocksnoop.8
	install -D -m 0644 completion/blocksnoop.bash $(DESTDIR)$(BASHCOMPDIR)/blocksnoop

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/blocksnoop $(DESTDIR)$(MANDIR)/man8/blocksnoop.8 \
		$(DESTDIR)$(BASHCOMPDIR)/blocksnoop

# Install only what is missing, so that a machine that has everything
# never touches apt. $(2): more options for apt-get install.
define apt_install
	@missing=""; for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' \
			|| missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) $$missing; \
	fi
endef

deps:
	$(call apt_install,$(DEPS_BUILD))

deps-test: deps
	$(call apt_install,$(DEPS_TEST))
	$(call apt_install,$(DEPS_NODE),--no-install-recommends)
	$(call apt_install,$(DEPS_BROWSER))
	$(call apt_install,$(DEPS_PROMETHEUS),--no-install-recommends)

demo: deps
	$(MAKE) all
	$(OUTPUT)/blocksnoop -t 50 --duration 8 -- $(PYTHON) examples/blocking_demo.py

unit: $(UNIT_BINS)
	$(Q)set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# Debian root file systems for the end-to-end tests' targets: the Python
# versions the host does not have, and Austin 3.x (it needs a newer glibc
# than Debian 12's). Each is built once with mmdebstrap and shared by every
# later run: in DIR.tmp under a lock, then renamed, so a half-built root is
# never used; a target runs in an overlay of it and never writes to it.
# `rm -rf build/rootfs-NAME` to rebuild one (testing moves on).
#   bullseye: 3.9   bookworm: 3.11, only on hosts without /usr/bin/python3.11
#   trixie: 3.13 + Austin 3.7   testing: 3.14 (python3) and 3.15
#   freethreaded: /usr/local/bin/python3.13t, built in the root from Debian's
#     python3.13 source (Debian packages no free-threaded CPython;
#     tests/rootfs/free-threaded-python), about 10 minutes on 2 cores
# The Release files of archived and moving suites can outlive their
# Valid-Until date; tests do not care.
ROOTFS := build/rootfs-trixie
comma := ,
# $(1) name, $(2) suite, $(3) packages, $(4) a file whose presence says the
# root is complete (the target), $(5) more mmdebstrap options (hooks).
define rootfs_rule
ROOTFS_DONE_$(1) := build/rootfs-$(1)/$(4)
build/rootfs-$(1)/$(4):
	$$(call msg,ROOTFS,build/rootfs-$(1))
	$(Q)mkdir -p build
	$(Q)flock build/rootfs-$(1).lock sh -c '\
		test -e $$@ && exit 0; \
		rm -rf build/rootfs-$(1).tmp && \
		mmdebstrap --quiet --variant=apt --include=$(3) \
			--aptopt="Acquire::Check-Valid-Until \"false\"" $(5) $(2) build/rootfs-$(1).tmp && \
		rm -rf build/rootfs-$(1) && mv build/rootfs-$(1).tmp build/rootfs-$(1)'
endef
$(eval $(call rootfs_rule,bullseye,bullseye,python3,usr/bin/python3.9))
$(eval $(call rootfs_rule,bookworm,bookworm,python3,usr/bin/python3.11))
$(eval $(call rootfs_rule,trixie,trixie,python3$(comma)austin,usr/bin/austin))
$(eval $(call rootfs_rule,testing,testing,python3$(comma)python3.15,usr/bin/python3.15))
$(eval $(call rootfs_rule,freethreaded,trixie,build-essential,usr/local/bin/python3.13t,\
	--customize-hook=tests/rootfs/free-threaded-python))
TEST_ROOTS := bullseye trixie testing freethreaded $(if $(wildcard /usr/bin/python3.11),,bookworm)

# kubernetes-models (the Kubernetes OpenAPI schema, for the manifest tests),
# speedscope and ajv (the flame graph tests) from npm, as pinned by
# tests/e2e/npm/package-lock.json.
K8S_MODELS := build/k8s-models
$(K8S_MODELS)/installed: tests/e2e/npm/package.json tests/e2e/npm/package-lock.json
	$(call msg,NPM,$(K8S_MODELS))
	$(Q)rm -rf $(K8S_MODELS) && mkdir -p $(K8S_MODELS)
	$(Q)cp $^ $(K8S_MODELS)/
	$(Q)npm ci --prefix $(K8S_MODELS) --no-audit --no-fund --loglevel=error
	$(Q)touch $@

# What the end-to-end tests download; `make test` fetches it in parallel.
e2e-fetch: $(foreach r,$(TEST_ROOTS),$(ROOTFS_DONE_$(r))) $(K8S_MODELS)/installed

e2e: $(OUTPUT)/blocksnoop fixtures $(OUTPUT)/tests/test_nsexec e2e-fetch
	BLOCKSNOOP=$(abspath $(OUTPUT)/blocksnoop) FIXTURES_BIN=$(abspath $(OUTPUT)/fixtures) \
	NSEXEC_DRIVER=$(abspath $(OUTPUT)/tests/test_nsexec) \
	BLOCKSNOOP_ROOTFS=$(abspath $(ROOTFS)) \
	BLOCKSNOOP_TEST_ROOTS="$(abspath $(addprefix build/rootfs-,$(TEST_ROOTS)))" \
	K8S_MODELS=$(abspath $(K8S_MODELS)) \
		$(PYTHON) -m pytest -q -rfEsxX -p no:cacheprovider --durations=15 $(or $(E2E_ARGS),tests/e2e)

test: deps-test
	$(MAKE) -j4 e2e-fetch
	$(MAKE) unit
	$(MAKE) e2e
	$(MAKE) fuzz

clean:
	rm -rf build

.DELETE_ON_ERROR:
.SECONDARY:
