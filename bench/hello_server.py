# SPDX-License-Identifier: Apache-2.0
"""aiohttp "hello" server for the throughput benchmark.

Usage: /usr/bin/python3 hello_server.py [PORT]   (0 = pick a free port)
Binds 127.0.0.1 only and prints "listening PORT" once it accepts
connections, so the driver needs no sleeps or fixed ports.
"""
import asyncio
import sys

from aiohttp import web


async def hello(_request):
    return web.Response(text="Hello, world\n")


async def main(port):
    app = web.Application()
    app.router.add_get("/", hello)
    # No access log: the benchmark measures the event loop, not logging.
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    port = runner.addresses[0][1]
    print(f"listening {port}", flush=True)
    await asyncio.Event().wait()  # until the driver kills us


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    except KeyboardInterrupt:
        pass
