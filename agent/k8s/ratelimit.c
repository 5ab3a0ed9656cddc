// SPDX-License-Identifier: Apache-2.0
#include "k8s/ratelimit.h"

void rate_limit_init(struct rate_limit *rl, double rate, unsigned burst, uint64_t now_ns)
{
	rl->rate = rate > 0 ? rate : 0;
	rl->burst = burst ? burst : 1;
	rl->tokens = rl->burst;
	rl->last_ns = now_ns;
}

bool rate_limit_take(struct rate_limit *rl, uint64_t now_ns)
{
	if (rl->rate == 0)
		return true;
	if (now_ns > rl->last_ns) {
		rl->tokens += (double)(now_ns - rl->last_ns) * rl->rate / 1e9;
		if (rl->tokens > rl->burst)
			rl->tokens = rl->burst;
		rl->last_ns = now_ns;
	}
	if (rl->tokens < 1)
		return false;
	rl->tokens -= 1;
	return true;
}
