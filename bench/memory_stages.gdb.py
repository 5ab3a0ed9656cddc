# SPDX-License-Identifier: Apache-2.0
# gdb script for bench/benchlib/memory.py: at each stage of blocksnoop's
# start-up (a breakpoint on a function), print one line
#   STAGE <function> <hit> <pid> VmRSS VmHWM RssAnon RssFile   (kB)
# Once blocksnoop waits for events, every breakpoint goes and it runs on.
import re

import gdb

FUNCTIONS = ["main", "detector_open_with", "btf__load_vmlinux_btf", "btf__free",
             "bpf_object__open_skeleton", "bpf_object__load_skeleton", "bpf_program__attach",
             "malloc_trim", "ring_buffer__new", "epoll_wait"]
FIELDS = ("VmRSS", "VmHWM", "RssAnon", "RssFile")


class Stage(gdb.Breakpoint):
    hits = 0  # hit_count is not yet counted inside stop()

    def stop(self):
        self.hits += 1
        pid = gdb.selected_inferior().pid
        with open(f"/proc/{pid}/status") as f:
            s = f.read()
        v = [re.search(rf"^{k}:\s+(\d+)", s, re.M).group(1) for k in FIELDS]
        print(f"STAGE {self.location} {self.hits} {pid} {' '.join(v)}", flush=True)
        if self.location == "epoll_wait" and loaded[0]:
            for b in gdb.breakpoints():
                b.enabled = False
        if self.location == "ring_buffer__new":
            loaded[0] = True
        return False


loaded = [False]
gdb.execute("set breakpoint pending on")
for fn in FUNCTIONS:
    Stage(fn)
