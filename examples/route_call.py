"""Route a phone call by the caller's age group while they speak: stream 8 kHz mu-law to voxage in real time and
act on the first reliable, confident estimate. Usage: python examples/route_call.py CALL.ulaw [ws://HOST:PORT]"""

import asyncio
import json
import sys
from pathlib import Path

from websockets.asyncio.client import connect

QUEUES = {"teens": "youth-desk", "sixties": "senior-line"}  # every other group: the general queue


async def route(path: str, server: str, key: str = "", pace: float = 0.02) -> str:
    async with connect(f"{server}/api/stream?encoding=mulaw&sample_rate=8000",
                       subprotocols=[f"bearer.{key}"] if key else None) as ws:
        async def send():
            audio = Path(path).read_bytes()
            for i in range(0, len(audio), 160):  # 20 ms frames, as a telephony platform sends them
                await ws.send(audio[i : i + 160])
                await asyncio.sleep(pace)
            await ws.send(json.dumps({"type": "end"}))

        sender = asyncio.create_task(send())
        async for message in ws:
            estimate = json.loads(message)
            if estimate["type"] == "error":
                raise SystemExit(f"voxage: {estimate['detail']}")
            if estimate["type"] == "final" or (estimate["reliable"] and max(estimate["probabilities"].values()) > 0.5):
                sender.cancel()
                return QUEUES.get(estimate["age_group"], "general")
    return "general"


if __name__ == "__main__":
    print(asyncio.run(route(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "ws://127.0.0.1:8000")))
