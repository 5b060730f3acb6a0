"""Route a call by the caller's age group while they speak. Usage: python route_call.py CALL.ulaw [ws://HOST:PORT]"""
import asyncio
import json
import sys
from pathlib import Path

from websockets.asyncio.client import connect

QUEUES = {"teens": "youth-desk", "sixties": "senior-line"}  # every other group: the general queue


async def route(path, server="ws://127.0.0.1:8000", key="", pace=0.02):
    async with connect(f"{server}/api/stream?encoding=mulaw&sample_rate=8000",
                       subprotocols=[f"bearer.{key}"] if key else None) as ws:
        async def send():  # 20 ms frames of 8 kHz mu-law in real time, as a telephony platform sends them
            audio = Path(path).read_bytes()
            for i in range(0, len(audio), 160):
                await ws.send(audio[i : i + 160])
                await asyncio.sleep(pace)
            await ws.send(json.dumps({"type": "end"}))

        sender = asyncio.create_task(send())
        async for message in ws:
            m = json.loads(message)
            if m["type"] == "error":
                raise SystemExit(f"voxage: {m['detail']}")
            if m["type"] == "final" or (m["reliable"] and max(m["probabilities"].values()) > 0.5):
                sender.cancel()  # routed while the caller still speaks
                return QUEUES.get(m["age_group"], "general")


if __name__ == "__main__":
    print(asyncio.run(route(*sys.argv[1:3])))
