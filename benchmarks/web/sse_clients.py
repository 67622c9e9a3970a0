#!/usr/bin/env python3
"""Open pages for the web benchmark: N Server-Sent Events connections following one proposal.

    sse_clients.py --url http://127.0.0.1:8080 --proposal 2 --clients 200 --seconds 30

Each client is what a browser on the proposal page holds open: GET /proposals/{id}/events. A
client retries (every 50 ms) until the proposal exists, then reads its stream and counts the
ballots it is sent (the `ballots` events carry the ballots of each 200 ms tick). A stream the server ends early (`resync`, sent to a client too slow to keep up)
is opened again, as the page does by reloading; a stream ends for good when the proposal is
decided or withdrawn. Prints one JSON line: connections made, events received (total, min and
max per client), and how many streams ended early. Standard library only.
"""

import argparse
import asyncio
import json
import time
from urllib.parse import urlparse


async def exists(host, port, path, until):
    """One scout polls (every 50 ms) until the proposal's page answers 200."""
    page = path.rsplit("/", 1)[0]
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(f"HEAD {page} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            status = await reader.readline()
            writer.close()
            if b" 200 " in status or b" 405 " in status:
                return True
        except OSError:
            pass
        await asyncio.sleep(0.05)
    return False


async def client(host, port, path, until, stats, index):
    count = 0
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            writer.close()
            await asyncio.sleep(0.05)
            continue
        stats["connected"] += 1
        tail = b""
        ended = None
        try:
            while True:
                left = until - time.monotonic()
                if left <= 0:
                    break
                chunk = await asyncio.wait_for(reader.read(65536), timeout=left)
                if not chunk:
                    ended = "closed"
                    break
                data = tail + chunk
                # Each ballot in a `ballots` event is one object with a "member" key.
                count += chunk.count(b'"member":')
                if b"event: resync\n" in data:
                    ended = "resync"
                if b"event: withdrawn\n" in data or b"event: decided\n" in data:
                    ended = "final"
                tail = data[-24:]
        except asyncio.TimeoutError:
            pass
        stats["events"][index] = count
        writer.close()
        if ended:
            stats["ended"][ended] = stats["ended"].get(ended, 0) + 1
        if ended in (None, "final"):
            return


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--proposal", required=True)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    url = urlparse(args.url)
    path = f"/proposals/{args.proposal}/events"
    until = time.monotonic() + args.seconds
    stats = {"connected": 0, "events": [0] * args.clients, "ended": {}}
    if not await exists(url.hostname, url.port, path, until):
        raise SystemExit(f"proposal {args.proposal} never appeared")
    await asyncio.gather(*(client(url.hostname, url.port, path, until, stats, i) for i in range(args.clients)))
    events = stats["events"]
    print(json.dumps({
        "clients": args.clients,
        "connected": stats["connected"],
        "ballot_events_total": sum(events),
        "ballot_events_min": min(events),
        "ballot_events_max": max(events),
        "ended_early": stats["ended"],
    }))


if __name__ == "__main__":
    asyncio.run(main())
