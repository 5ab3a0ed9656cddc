"""A small asyncio service with the mistakes blocksnoop is made to find.

Three "request handlers" run concurrently for a few seconds:
  - fetch_profile() calls a blocking function (time.sleep stands in for a
    synchronous HTTP or database client) right inside a coroutine;
  - hash_password() does CPU-heavy work on the event loop thread;
  - write_audit_log() does it right: the blocking call runs in a thread
    (asyncio.to_thread), so the loop stays responsive and nothing is reported.

Run it under blocksnoop:
    sudo blocksnoop -t 50 -- python3 examples/blocking_demo.py
"""
import asyncio
import hashlib
import time


def slow_sync_client(delay):
    time.sleep(delay)  # a synchronous network call in disguise


async def fetch_profile(user_id):
    slow_sync_client(0.25)  # blocks the loop for 250 ms
    return {"id": user_id}


async def hash_password(password):
    digest = password.encode()
    for _ in range(400_000):  # ~150 ms of pure CPU on the loop thread
        digest = hashlib.sha256(digest).digest()
    return digest.hex()


async def write_audit_log(line):
    await asyncio.to_thread(slow_sync_client, 0.3)  # fine: off the loop


async def serve(seconds):
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
        profile = asyncio.create_task(fetch_profile(n), name=f"request-{n}")
        await asyncio.gather(profile, write_audit_log(f"request {n}"))
        if n % 2 == 0:
            await hash_password(f"secret-{n}")
        await asyncio.sleep(0.2)
    print(f"served {n} requests")


if __name__ == "__main__":
    asyncio.run(serve(6.0))
