# blocksnoop container image: the blocksnoop binary and Debian's Austin on
# Debian 13 (trixie) slim, with no compiler and no kernel headers.
#
#   docker build -t blocksnoop .
#   docker run --rm --privileged --pid=host blocksnoop <PID>        # a host PID
#   docker run --rm --privileged --pid=host blocksnoop doctor <PID>
#
# Both stages are trixie, so the binary links against exactly the library
# versions the runtime stage installs.
#
# vmlinux.h is generated during the build from the kernel BTF of the machine
# that runs the build (/sys/kernel/btf/vmlinux, which Docker BuildKit and
# podman expose read-only in RUN steps). CO-RE makes the result run on any
# BTF-enabled kernel, so any BTF will do. If the builder has no readable BTF
# (a remote builder, a kernel without CONFIG_DEBUG_INFO_BTF), put a BTF file
# into the build context and name it, relative to the context:
#   cp /sys/kernel/btf/vmlinux vmlinux.btf
#   docker build --build-arg VMLINUX_BTF=vmlinux.btf -t blocksnoop .

ARG DEBIAN_IMAGE=debian:trixie-slim

# --------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS build

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        make gcc libc6-dev clang llvm bpftool pkg-config \
        libbpf-dev libelf-dev zlib1g-dev libcjson-dev libcap-dev \
        libcurl4-openssl-dev libmicrohttpd-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

ARG VMLINUX_BTF=/sys/kernel/btf/vmlinux
RUN if [ ! -r "$VMLINUX_BTF" ]; then \
        echo "error: no readable kernel BTF at $VMLINUX_BTF; copy one into the build" \
             "context and pass --build-arg VMLINUX_BTF=<its path> (see the Dockerfile)" >&2; \
        exit 1; \
    fi \
 && make -j"$(nproc)" VMLINUX_BTF="$VMLINUX_BTF" \
 && make install PREFIX=/usr/local DESTDIR=/out \
 && /out/usr/local/bin/blocksnoop --version

# The Debian packages that own the shared libraries the binary itself links
# (its NEEDED entries, not their dependencies), and those of the libraries it
# loads only when a run needs them (libcurl, libmicrohttpd: the Makefile
# names their packages): the runtime stage installs exactly these, so a
# library added to the Makefile needs no change here.
# Today: libbpf1 libcap2 libcjson1 libcurl4t64 libelf1t64 libmicrohttpd12t64
# (libc6 and zlib1g are in every Debian image).
RUN set -e; bin=/out/usr/local/bin/blocksnoop; \
    { for lib in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do \
        path=$(ldd "$bin" | awk -v l="$lib" '$1 == l { print $3 }'); \
        dpkg -S "$(realpath "$path")" | cut -d: -f1; \
      done; make -s print-dlopen-packages | tr ' ' '\n'; \
    } | sort -u | grep -vx libc6 > /out/runtime-packages; \
    grep -qx libbpf1 /out/runtime-packages; \
    grep -q '^libcurl' /out/runtime-packages; \
    grep -q '^libmicrohttpd' /out/runtime-packages; \
    cat /out/runtime-packages

# --------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE}

LABEL org.opencontainers.image.title="blocksnoop" \
      org.opencontainers.image.description="Find what blocks your asyncio event loop (eBPF)" \
      org.opencontainers.image.licenses="Apache-2.0 AND (GPL-2.0-only OR BSD-2-Clause)"

COPY --from=build /out/runtime-packages /usr/share/blocksnoop/runtime-packages
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        $(cat /usr/share/blocksnoop/runtime-packages) austin \
 && rm -rf /var/lib/apt/lists/*

COPY --from=build /out/usr/local/bin/blocksnoop /usr/local/bin/blocksnoop
RUN if ldd /usr/local/bin/blocksnoop | grep 'not found'; then exit 1; fi \
 && blocksnoop --version && austin -V \
 && blocksnoop doctor | grep -E '^ok +lib(curl|microhttpd)\.so' | grep -c . | grep -qx 2

# eBPF, tracefs and reading other processes' memory need root (or
# CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_DAC_READ_SEARCH):
# the image runs as root and is started privileged.
USER root
ENTRYPOINT ["blocksnoop"]
CMD ["--help"]
