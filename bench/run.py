#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""blocksnoop overhead benchmark.

    sudo bench/run.py [--quick] [--rounds N] [--blocksnoop PATH] [--output FILE]
                      [--only throughput|percall] [--blocksnoop-args ARGS] ...

Measures, interleaved round by round so machine noise hits every variant alike,
and reports medians:
  1. aiohttp "hello" throughput under wrk: alone / blocksnoop attached /
     PYTHONASYNCIODEBUG=1;
  2. per-syscall cost in an unrelated process (bench/syscall_loop.c): nothing
     attached / two empty BPF programs (the attach mechanism's floor) /
     blocksnoop running against some other process;
  3. blocksnoop's own CPU and peak RSS during the throughput runs.
Needs root (BPF), wrk, /usr/bin/python3 with aiohttp. Loopback only.
See docs/benchmarks.md.
"""
import argparse
import datetime
import glob
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PYTHON = "/usr/bin/python3"  # Debian's, the one python3-aiohttp is built for
IDLE_LOOP = "import asyncio; asyncio.run(asyncio.sleep(1e9))"

started = []  # every Popen we start, so cleanup can find it by PID
logdir = None


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def set_autogroup_nice(n):
    """With sched_autogroup, nice ranks tasks only within their session; the
    session's own weight is its autogroup's nice."""
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(n))
    except OSError:
        pass  # no autogroups: the plain nice value already applies


def start(argv, name, env=None, stdout=None):
    """Start a child in its own session (a terminal Ctrl-C reaches only us,
    and we stop children in an order we choose), stderr to a log file."""
    err = open(os.path.join(logdir, f"{name}.{len(started)}.err"), "w")
    p = subprocess.Popen(argv, stdout=stdout or subprocess.DEVNULL, stderr=err,
                         env=env, start_new_session=True,
                         preexec_fn=lambda: set_autogroup_nice(os.nice(0)))
    p.errlog = err.name
    started.append(p)
    return p


def stop(p, sig=signal.SIGINT, timeout=5):
    """Stop one child by PID: sig first (blocksnoop detaches on SIGINT), then
    SIGKILL if it lingers."""
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in started:
        started.remove(p)


def cleanup():
    for p in reversed(list(started)):
        stop(p, timeout=2)


def tail(path, n=5):
    with open(path) as f:
        return "".join(f.readlines()[-n:])


def read_line(p, what, timeout=15):
    """First stdout line of p, or fail if p dies or stays silent."""
    deadline = time.monotonic() + timeout
    os.set_blocking(p.stdout.fileno(), False)
    buf = b""
    while time.monotonic() < deadline:
        buf += p.stdout.read() or b""
        if b"\n" in buf:
            return buf.split(b"\n")[0].decode()
        if p.poll() is not None:
            break
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not start:\n{tail(p.errlog)}")


def bpf_fds(pid):
    """How many BPF links/perf events pid holds: libbpf attaches a tracepoint
    program as a perf event (+ a bpf_link on newer kernels)."""
    n = 0
    for fd in glob.glob(f"/proc/{pid}/fd/*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        n += "bpf_link" in target or "[perf_event]" in target
    return n


def wait_attached(p, timeout=20):
    """blocksnoop prints nothing when it is ready, so wait until its set of
    BPF attachments is non-empty and has stopped growing for 0.5 s."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"blocksnoop exited ({p.returncode}):\n{tail(p.errlog)}")
        n = bpf_fds(p.pid)
        if n != last:
            last, since = n, time.monotonic()
        elif n > 0 and time.monotonic() - since >= 0.5:
            return
        time.sleep(0.05)
    raise RuntimeError(f"blocksnoop did not attach within {timeout}s:\n{tail(p.errlog)}")


def cpu_ns(pid):
    """CPU time of all of pid's threads, in ns. schedstat's first field is
    exact run time; utime+stime in /proc/PID/stat tick at 10 ms, too coarse
    to tell 0.5% from 1% of a core over a few seconds."""
    total = 0
    for f in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        with open(f) as fh:
            total += int(fh.read().split()[0])
    return total


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmHWM:\s+(\d+)", f.read(), re.M).group(1))


def wrk(port, seconds, conns):
    out = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s",
                          f"http://127.0.0.1:{port}/"],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    # Any error or non-2xx answer means the number is not comparable.
    bad = re.search(r"(Socket errors|Non-2xx).*", out)
    if bad:
        log(f"wrk: {bad.group(0)}")
    return rps


def foreign_probes():
    """PIDs other than ours holding BPF programs on syscall tracepoints (say,
    someone's blocksnoop test): they slow every syscall on the host, the
    "nothing attached" baseline included."""
    try:
        out = subprocess.run(["bpftool", "perf", "list"], capture_output=True,
                             text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    pids = {int(m.group(1)) for m in re.finditer(r"pid (\d+) .*tracepoint\s+sys_", out)}
    return pids - {p.pid for p in started}


def wait_quiet(a):
    """Wait up to --wait-quiet s for foreign probes to go; False if they stay."""
    deadline = time.monotonic() + a.wait_quiet
    while (pids := foreign_probes()):
        if time.monotonic() > deadline:
            log(f"  other processes hold syscall tracepoint programs: {sorted(pids)}")
            return False
        time.sleep(1)
    return True


def watched_run(fn, variant, a):
    """fn(variant, a), rerun up to --retries times if foreign probes showed
    up meanwhile (polled once a second: ~1% of a core, alike for all).
    Returns (values, disturbed)."""
    for attempt in range(a.retries + 1):
        seen, done = [not wait_quiet(a)], threading.Event()

        def poll():
            while not done.wait(1):
                seen[0] = seen[0] or bool(foreign_probes())
        t = threading.Thread(target=poll, daemon=True)
        t.start()
        try:
            values = fn(variant, a)
        finally:
            done.set()
            t.join()
        if not (seen[0] or foreign_probes()):
            return values, False
        if attempt < a.retries:
            log("  another process attached syscall tracepoint programs meanwhile: again")
    return values, True


# ---- part 1 + 3: throughput, and blocksnoop's own cost ---------------------

def throughput_run(variant, a):
    out = {}
    env = dict(os.environ)
    if variant == "debug":
        env["PYTHONASYNCIODEBUG"] = "1"
    server = start([PYTHON, os.path.join(HERE, "hello_server.py"), "0"],
                   "server", env=env, stdout=subprocess.PIPE)
    try:
        port = int(read_line(server, "hello_server.py").split()[1])
        # Every variant starts loading the server the same time after it is
        # up (blocksnoop attaches within that), so interpreter start-up and
        # the previous run's teardown weigh on all of them alike.
        settle_until = time.monotonic() + a.settle
        bs = None
        if variant == "blocksnoop":
            events = open(os.path.join(logdir, f"events.{len(started)}"), "w")
            # --json only so the events can be counted; the detector and
            # its kernel side are the same as with the console output.
            bs = start([a.blocksnoop, "-t", "10", "--json", *a.bs_args, str(server.pid)],
                       "blocksnoop", stdout=events)
            wait_attached(bs)
        time.sleep(max(0, settle_until - time.monotonic()))
        wrk(port, a.warmup, a.connections)  # unmeasured warm-up: allocator, caches
        if bs:
            c0, t0 = cpu_ns(bs.pid), time.monotonic()
        rps = wrk(port, a.duration, a.connections)
        out[("rps", variant)] = rps
        if bs:
            busy = (cpu_ns(bs.pid) - c0) / ((time.monotonic() - t0) * 1e9)
            out[("bs_cpu_pct", None)] = 100 * busy
            out[("bs_cpu_total_ms", None)] = cpu_ns(bs.pid) / 1e6
            out[("bs_hwm_kib", None)] = vm_hwm_kib(bs.pid)
            stop(bs)
            events.close()
            with open(events.name) as f:
                out[("bs_events", None)] = sum('"blocking_event"' in line for line in f)
            if bs.returncode != 0 or "blocksnoop: " in tail(bs.errlog):
                log(f"blocksnoop exited {bs.returncode}: {tail(bs.errlog)}")
        log(f"  throughput {variant:<10} {rps:10,.0f} req/s")
        return out
    finally:
        cleanup()


# ---- part 2: per-call cost in an unrelated process --------------------------

def loop_run(variant, a):
    # The probes' user-space side (blocksnoop's timers, the idle target) runs
    # on the other CPUs: this part measures what the probes add to each
    # syscall; blocksnoop's own CPU time is part 3.
    pin = ["taskset", "-c", a.other_cpus] if a.cpu is not None else []
    try:
        if variant == "empty":
            ep = start(pin + [os.path.join(a.bench_build, "empty_probes")], "empty_probes",
                       stdout=subprocess.PIPE)
            if read_line(ep, "empty_probes") != "attached":
                raise RuntimeError("empty_probes: unexpected output")
        elif variant == "blocksnoop":
            # A sleeping asyncio loop gives blocksnoop a target; the timed
            # loop below is a different process, so this is what everybody
            # else on the host pays while blocksnoop runs.
            target = start(pin + [PYTHON, "-c", IDLE_LOOP], "idle_loop")
            time.sleep(0.3)  # let the interpreter get into its loop
            wait_attached(start(pin + [a.blocksnoop, "-t", "10", *a.bs_args,
                                       str(target.pid)], "blocksnoop"))
        argv = [os.path.join(a.bench_build, "syscall_loop"), str(a.calls)]
        if a.cpu is not None:
            argv = ["taskset", "-c", str(a.cpu)] + argv
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        log(f"  per-call   {variant:<10} {out.strip()}")
        return {(k[:-3], variant): float(x)  # "epoll_wait_min_ns" -> "epoll_wait_min"
                for k, x in (kv.split("=") for kv in out.split())}
    finally:
        cleanup()


# ---- report -----------------------------------------------------------------

def med(res, key):
    v = res.get(key)
    return statistics.median(v) if v else None


def fmt(x, spec=",.0f", none="not run"):
    return none if x is None else format(x, spec)


def spread(res, key, spec=",.0f"):
    v = res.get(key)
    return f" ({min(v):{spec}}–{max(v):{spec}})" if v and len(v) > 1 else ""


def paired_delta(res, call, v, ref):
    """Median over rounds of (v - ref) within the same round: the variants of
    one round ran seconds apart, so slow drift of the host cancels out."""
    x, y = res.get((call, v)), res.get((call, ref))
    return statistics.median(a - b for a, b in zip(x, y)) if x and y else None


def percall_table(res, sfx, title):
    L = ["", title, "",
         "| attached | `epoll_wait(…, 0)` | Δ vs nothing | Δ vs empty programs "
         "| `getppid()` | Δ vs nothing | Δ vs empty programs |",
         "|---|---|---|---|---|---|---|"]
    for v, label in (("nothing", "nothing"),
                     ("empty", "two empty programs on `sys_{enter,exit}_epoll_wait`"),
                     ("blocksnoop", "blocksnoop (watching another process)")):
        row = f"| {label} "
        for call in ("epoll_wait" + sfx, "getppid" + sfx):
            def d(ref):
                return fmt(paired_delta(res, call, v, ref), "+,.0f", "–")
            row += (f"| {fmt(med(res, (call, v)))}{spread(res, (call, v))} "
                    f"| {d('nothing')} | {d('empty')} ")
        L.append(row + "|")
    return L


def ratios(res, v):
    """v's req/s over the same round's "alone" run, for every round: slow
    drift of the shared host cancels out of each ratio."""
    x, y = res.get(("rps", v)), res.get(("rps", "alone"))
    return [p / q for p, q in zip(x, y)] if x and y else None


def report(a, res, meta):
    L = [f"{meta['blocksnoop']}.",
         f"Measured {meta['date']} on {meta['host']}; load average "
         f"{meta['load0']} before, {meta['load1']} after (the benchmark itself adds ~2).",
         f"{a.rounds} interleaved rounds; medians, (min–max) across rounds; "
         "ratios and Δ are medians of same-round pairs."]
    bad = res.get(("disturbed", None), [])
    if any(bad):
        L.append(f"**{sum(bad)} of {len(bad)} runs overlapped another process's BPF programs "
                 f"on syscall tracepoints** even after {a.retries} reruns; such programs "
                 "slow every syscall on the host.")
    if a.only != "percall":
        L += throughput_table(a, res)
    if a.only != "throughput":
        pin = (f" (loop on CPU {a.cpu}, probes' user space on CPU {a.other_cpus})"
               if a.cpu is not None else "")
        L += percall_table(res, "", "### 2a. Per-call cost in an unrelated process, "
                           f"ns/call, mean of all calls{pin}")
        L += percall_table(res, "_min", "### 2b. The same, fastest of 200 blocks of "
                           f"{a.calls // 200:,} calls")
    if a.only != "percall":
        L += own_cost_table(res)
    return "\n".join(L + goals(a, res)) + "\n"


def throughput_table(a, res):
    L = ["", f"### 1. Throughput: aiohttp hello, `wrk -t1 -c{a.connections} -d{a.duration}s`",
         "", "| setup | requests/s | vs alone |", "|---|---|---|"]
    bs_cmd = " ".join(["blocksnoop -t 10", *a.bs_args, "PID"])
    for v, label in (("alone", "alone"),
                     ("blocksnoop", f"`{bs_cmd}` attached"),
                     ("debug", "asyncio debug mode (`PYTHONASYNCIODEBUG=1`)")):
        res[("ratio", v)] = ratios(res, v)
        ratio = fmt(med(res, ("ratio", v)), ".3f", "–")
        L.append(f"| {label} | {fmt(med(res, ('rps', v)))}{spread(res, ('rps', v))} "
                 f"| {ratio}{spread(res, ('ratio', v), '.2f') if v != 'alone' else ''} |")
    return L


def own_cost_table(res):
    cpu, hwm = med(res, ("bs_cpu_pct", None)), med(res, ("bs_hwm_kib", None))
    return ["", "### 3. blocksnoop's own cost (during the blocksnoop throughput runs)", "",
            "| metric | value |", "|---|---|",
            f"| CPU while wrk runs, % of one core | {fmt(cpu, '.2f')}"
            f"{spread(res, ('bs_cpu_pct', None), '.2f')} |",
            f"| CPU since start incl. BPF load, ms | {fmt(med(res, ('bs_cpu_total_ms', None)))} |",
            f"| peak RSS (VmHWM), MiB | {fmt(hwm / 1024 if hwm else None, '.1f')} |",
            "| blocking events reported (≥ 10 ms) per run "
            f"| {fmt(med(res, ('bs_events', None)))} |"]


def goals(a, res):
    def goal(text, value, unit, ok):
        if value is None:
            return f"| {text} | not run | |"
        return f"| {text} | {value}{unit} | {'met' if ok else '**missed**'} |"
    L = ["", "### Goals", "", "| goal | measured | |", "|---|---|---|"]
    if a.only != "percall":
        r = ratios(res, "blocksnoop")
        rb = statistics.median(r) if r else None
        cpu = med(res, ("bs_cpu_pct", None))
        L += [goal("≥ 99% of baseline req/s", fmt(rb * 100, ".1f") if rb else None,
                   "%", rb and rb >= 0.99),
              goal("< 1% of a core", fmt(cpu, ".2f") if cpu is not None else None, "%",
                   cpu is not None and cpu < 1)]
    if a.only != "throughput":
        for sfx, what in (("", "mean"), ("_min", "fastest block")):
            d = paired_delta(res, "epoll_wait" + sfx, "blocksnoop", "empty")
            L.append(goal(f"≤ 20 ns per epoll call over the empty-program floor ({what})",
                          fmt(d, "+,.0f") if d is not None else None, " ns",
                          d is not None and d <= 20))
    return L


def describe(a, have_bs):
    """Which blocksnoop was measured: its version and the tree it came from."""
    if not have_bs:
        return f"blocksnoop: {a.blocksnoop} not found, its rows were not run"
    def first_line(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True,
                                  timeout=5).stdout.strip()
        except subprocess.TimeoutExpired:  # not blocksnoop after all
            return ""
    ver = first_line([a.blocksnoop, "--version"])
    rev = first_line(["git", "-C", ROOT, "describe", "--always", "--dirty"])
    return f"{ver or a.blocksnoop}" + (f", tree {rev}" if rev else "")


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    return f"{os.cpu_count()}-core {cpu}, kernel {platform.release()}"


def main():
    global logdir
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--blocksnoop", default=os.environ.get(
        "BLOCKSNOOP", os.path.join(ROOT, "build/blocksnoop")))
    ap.add_argument("--blocksnoop-args", default="", metavar="ARGS",
                    help='extra blocksnoop options, e.g. "--sampler none"')
    ap.add_argument("--quick", action="store_true", help="~1.5 minutes instead of ~5")
    ap.add_argument("--rounds", type=int, help="rounds (default 7, quick 3)")
    ap.add_argument("--duration", type=int, help="wrk seconds (default 3, quick 2)")
    ap.add_argument("--calls", type=int, help="syscall_loop N (default 2000000)")
    ap.add_argument("--connections", type=int, default=20)
    ap.add_argument("--cpu", type=int, default=os.cpu_count() - 1,
                    help="pin syscall_loop to this CPU (-1: do not pin)")
    ap.add_argument("--only", choices=("throughput", "percall"))
    ap.add_argument("--wait-quiet", type=int, default=10, metavar="S",
                    help="before each run, wait up to S s for other processes' "
                    "syscall tracepoint programs to go (default 10)")
    ap.add_argument("--retries", type=int, default=1,
                    help="rerun a run disturbed by such programs up to this often")
    ap.add_argument("--nice", type=int, default=0,
                    help="run everything at this nice value, e.g. -10 on a machine "
                    "busy with other jobs (they then get less CPU)")
    ap.add_argument("--output", help="also write the markdown table here")
    ap.add_argument("--keep-logs", action="store_true",
                    help="keep the children's stderr and blocksnoop's records")
    a = ap.parse_args()
    # Many short rounds beat few long ones here: the noise is co-tenants
    # coming and going, and a median needs samples.
    a.rounds = a.rounds or (3 if a.quick else 7)
    a.duration = a.duration or (2 if a.quick else 3)
    a.calls = a.calls or (1_000_000 if a.quick else 2_000_000)
    a.warmup, a.settle = 1, 2
    a.cpu = None if a.cpu < 0 else a.cpu
    a.other_cpus = ",".join(str(c) for c in range(os.cpu_count()) if c != a.cpu)
    a.bs_args = shlex.split(a.blocksnoop_args)
    a.bench_build = os.path.join(HERE, "build")

    if os.geteuid() != 0:
        sys.exit("bench/run.py: needs root (BPF programs)")
    subprocess.run(["make", "-s", "-C", HERE], check=True)
    if a.nice:  # children inherit it; start() carries it into their sessions
        os.setpriority(os.PRIO_PROCESS, 0, a.nice)
        set_autogroup_nice(a.nice)
    # libbpf attaches tracepoints through tracefs; fresh machines lack it.
    if not os.path.isdir("/sys/kernel/tracing/events"):
        subprocess.run(["mount", "-t", "tracefs", "tracefs", "/sys/kernel/tracing"], check=True)
    have_bs = os.access(a.blocksnoop, os.X_OK)
    if not have_bs:
        log(f"{a.blocksnoop} missing: its variants are skipped (run `make` first)")

    # Signals unwind through the finally below, which stops the children.
    # SIGINT too: a shell starts background jobs with it ignored.
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, lambda sig, _: sys.exit(128 + sig))
    logdir = tempfile.mkdtemp(prefix="blocksnoop-bench.")
    meta = {"date": datetime.date.today().isoformat(), "host": machine(),
            "load0": "%.2f" % os.getloadavg()[0], "blocksnoop": describe(a, have_bs)}
    res = {}
    parts = [("throughput", throughput_run, ["alone", "blocksnoop", "debug"]),
             ("per-call", loop_run, ["nothing", "empty", "blocksnoop"])]
    if a.only:
        parts = [parts[a.only == "percall"]]
    try:
        for part, fn, variants in parts:
            variants = [v for v in variants if have_bs or v != "blocksnoop"]
            for r in range(a.rounds):
                log(f"{part} round {r + 1}/{a.rounds}")
                # Rotate the order each round (A,B,C / B,C,A / ...) so no
                # variant always runs first after a quiet period.
                for v in variants[r % len(variants):] + variants[:r % len(variants)]:
                    values, disturbed = watched_run(fn, v, a)
                    for k, x in values.items():
                        res.setdefault(k, []).append(x)
                    res.setdefault(("disturbed", None), []).append(disturbed)
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)  # a second Ctrl-C must not skip cleanup
        cleanup()
        if not a.keep_logs:
            shutil.rmtree(logdir, ignore_errors=True)
        else:
            log(f"logs in {logdir}")

    meta["load1"] = "%.2f" % os.getloadavg()[0]
    table = report(a, res, meta)
    print(table)
    if a.output:
        with open(a.output, "w") as f:
            f.write(table)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        cleanup()
        sys.exit(130)
    except (RuntimeError, subprocess.CalledProcessError) as e:
        sys.exit(f"bench/run.py: {e}")
