"""Who may call `/api/*`, and how often: a bearer key and a per-client token bucket."""

from __future__ import annotations

import hmac
import math
import threading
import time
from dataclasses import dataclass, field

from voxage.errors import ConfigError

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class ApiError(Exception):
    """A 4xx the client can fix; rendered as the `Error` body with these headers."""

    def __init__(self, status: int, reason: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.reason, self.detail, self.headers = status, reason, detail, headers or {}


def check_key(expected: str | None, authorization: str | None) -> None:
    """Raise 401 unless `Authorization: Bearer <expected>` (compared in constant time); no key set: open."""
    if not expected:
        return
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "send the API key as 'Authorization: Bearer KEY'",
                       {"WWW-Authenticate": "Bearer"})


@dataclass
class RateLimiter:
    """Token bucket per client: `per_minute` requests a minute on average, bursts of up to `burst`."""

    per_minute: float
    burst: int = 0  # 0: a second's worth, at least 1
    clock: callable = time.monotonic
    _buckets: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        if self.per_minute <= 0:
            raise ConfigError("rate limit must be positive (requests per minute)")
        self.burst = self.burst or max(1, math.ceil(self.per_minute / 60))

    def take(self, client: str) -> None:
        """Spend one token of this client's bucket, or raise 429 with the seconds until the next one."""
        rate = self.per_minute / 60.0
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / rate)
                raise ApiError(429, "rate_limited", f"more than {self.per_minute:g} requests a minute from this "
                                                    f"client; retry in {wait} s", {"Retry-After": str(wait)})
            self._buckets[client] = (tokens - 1.0, now)
            if len(self._buckets) > 10_000:  # forget idle clients rather than grow without bound
                cutoff = now - self.burst / rate
                self._buckets = {c: v for c, v in self._buckets.items() if v[1] >= cutoff}
