/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s/agent.h - `blocksnoop agent`, the Kubernetes node agent (agent.c).
 *
 * One engine (engine.h) watches every Python process of every opted-in pod
 * on the node. Pods come from the kubelet's /pods (kubelet.c, parsed by
 * podlist.c), processes from /proc/<pid>/cgroup (cgroup.c); records carry
 * the pod's metadata, /metrics and /healthz are served by metrics_http.c.
 * See docs/kubernetes.md.
 */
#ifndef BLOCKSNOOP_K8S_AGENT_H
#define BLOCKSNOOP_K8S_AGENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "event.h"
#include "session_info.h"
#include "sink.h"

/*
 * The agent's entry point: argv[0] is "agent" (main() passes argc - 1,
 * argv + 1). Runs until SIGINT/SIGTERM or --duration. Returns blocksnoop's
 * exit status (exit_codes.h); every error has been reported on stderr.
 */
int agent_main(int argc, char **argv);

/*
 * The console in agent mode: sink_console_new(fd, color, false) with
 * start_line (copied) as its session start and each event introduced by
 * its pod and container. NULL when out of memory.
 */
struct sink *agent_console_new(int fd, bool color, const char *start_line);


#endif
