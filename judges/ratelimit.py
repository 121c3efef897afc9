"""A requests-per-minute and tokens-per-minute limit per provider endpoint, shared by every worker,
and a limit of calls in flight per judge endpoint (``EndpointSlots``, a judge's max_concurrency).

With a Redis broker the buckets live in Redis and one Lua script checks and takes from both
atomically (Redis' own clock, so worker clocks need not agree). With the filesystem broker (one
laptop) each process keeps its own buckets. Celery's ``rate_limit`` is per worker and per task,
which is not what a provider counts, so it is not used.

Each bucket holds at most ten seconds' worth of its rate, so a fleet that starts together sends a
short burst and then the steady rate, instead of a whole minute's quota at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import random
import secrets
import time

logger = logging.getLogger(__name__)

BURST_SECONDS = 10.0

# KEYS: bucket keys; ARGV: rate_per_minute, need for each key in turn. Returns 0 when taken,
# otherwise the milliseconds to wait before the request could fit.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait, levels = 0, {}
for i = 1, #KEYS do
  local rate, need = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local per_ms = rate / 60000
  local cap = math.max(rate * BURST / 60, need)
  local state = redis.call('HMGET', KEYS[i], 'level', 'ts')
  local level = tonumber(state[1]) or cap
  local ts = tonumber(state[2]) or now
  level = math.min(cap, level + math.max(0, now - ts) * per_ms)
  levels[i] = level
  if level < need then wait = math.max(wait, math.ceil((need - level) / per_ms)) end
end
if wait > 0 then return wait end
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], 'level', levels[i] - tonumber(ARGV[2 * i]), 'ts', now)
  redis.call('PEXPIRE', KEYS[i], 120000)
end
return 0
""".replace("BURST", repr(BURST_SECONDS))


class _LocalBuckets:
    def __init__(self) -> None:
        self.state: dict[str, tuple[float, float]] = {}

    def take(self, limits: list[tuple[str, int, int]]) -> float:
        now = time.monotonic()
        wait, levels = 0.0, []
        for key, rate, need in limits:
            cap = max(rate * BURST_SECONDS / 60, need)
            level, ts = self.state.get(key, (cap, now))
            level = min(cap, level + (now - ts) * rate / 60)
            levels.append(level)
            if level < need:
                wait = max(wait, (need - level) * 60 / rate)
        if wait > 0:
            return wait
        for (key, _, need), level in zip(limits, levels, strict=True):
            self.state[key] = (level - need, now)
        return 0.0


class RateLimiter:
    """Owned by one event loop. ``acquire`` sleeps until the request fits both buckets."""

    def __init__(self, redis_url: str = "") -> None:
        self.redis_url = redis_url
        self._redis = None
        self._script = None
        self._local = _LocalBuckets()

    def _redis_script(self):
        if self._script is None and self.redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.Redis.from_url(self.redis_url, socket_timeout=5, socket_connect_timeout=2)
            self._script = self._redis.register_script(_TAKE)
        return self._script

    async def acquire(self, *, provider: str, base_url: str, rpm: int | None, tpm: int | None, tokens: int) -> None:
        if not rpm and not tpm:
            return
        endpoint = hashlib.sha1(f"{provider}|{base_url}".encode()).hexdigest()[:16]
        limits = []
        if rpm:
            limits.append((f"accord:judges:rate:{endpoint}:rpm", int(rpm), 1))
        if tpm:
            limits.append((f"accord:judges:rate:{endpoint}:tpm", int(tpm), min(int(tokens), int(tpm))))
        while True:
            wait = await self._take(limits)
            if wait <= 0:
                return
            # Jitter so that waiting requests do not all wake in the same millisecond.
            await asyncio.sleep(wait * random.uniform(1.0, 1.2))

    async def _take(self, limits: list[tuple[str, int, int]]) -> float:
        script = self._redis_script()
        if script is not None:
            try:
                args = [x for _, rate, need in limits for x in (rate, need)]
                return int(await script(keys=[k for k, _, _ in limits], args=args)) / 1000
            except Exception as exc:  # Redis down: degrade to a per-process limit rather than stop
                logger.warning("judge rate limiter: Redis unavailable (%s); using a per-process limit", exc)
                self._script = None
                self.redis_url = ""
        return self._local.take(limits)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


# KEYS: the endpoint's holders (a sorted set: token -> lease end); ARGV: limit, lease ms, token.
_HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return 1
end
return 0
"""


class EndpointSlots:
    """At most ``limit`` calls in flight to one endpoint from every worker together.

    With Redis: a sorted set of holders, each with a lease as long as a call may last (a worker
    killed mid-call frees its slot when the lease ends). Without Redis (the filesystem broker:
    one machine): ``limit`` lock files, held with ``flock`` while a call is in flight, which the
    kernel releases when a process dies. Owned by one event loop.
    """

    POLL_SECONDS = 0.02

    def __init__(self, redis_url: str = "", slot_dir: str = "") -> None:
        self.redis_url = redis_url
        self.slot_dir = slot_dir
        self._redis = None
        self._script = None

    def _redis_script(self):
        if self._script is None and self.redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.Redis.from_url(self.redis_url, socket_timeout=5, socket_connect_timeout=2)
            self._script = self._redis.register_script(_HOLD)
        return self._script

    @contextlib.asynccontextmanager
    async def hold(self, *, endpoint: str, limit: int, lease_seconds: float):
        key = "accord:judges:slots:" + hashlib.sha1(endpoint.encode()).hexdigest()[:16]
        token = secrets.token_hex(8)
        held = None
        wait = self.POLL_SECONDS
        while held is None:
            held = await self._take(key, limit, lease_seconds, token)
            if held is None:
                await asyncio.sleep(wait * random.uniform(0.5, 1.5))
                wait = min(wait * 1.5, 0.25)
        try:
            yield
        finally:
            await self._give(key, held)

    async def _take(self, key: str, limit: int, lease_seconds: float, token: str):
        script = self._redis_script()
        if script is not None:
            try:
                taken = await script(keys=[key], args=[limit, int(lease_seconds * 1000), token])
                return ("redis", token) if int(taken) else None
            except Exception as exc:  # Redis down: fall back to this machine's lock files
                logger.warning("judge concurrency slots: Redis unavailable (%s); using lock files", exc)
                self._script = None
                self.redis_url = ""
        return self._lock_file(key, limit)

    def _lock_file(self, key: str, limit: int):
        if not self.slot_dir:
            return ("none", None)
        os.makedirs(self.slot_dir, exist_ok=True)
        for index in range(limit):
            fd = os.open(os.path.join(self.slot_dir, f"{key.rsplit(':', 1)[-1]}-{index}.lock"), os.O_CREAT | os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            return ("file", fd)
        return None

    async def _give(self, key: str, held) -> None:
        kind, value = held
        if kind == "file":
            fcntl.flock(value, fcntl.LOCK_UN)
            os.close(value)
        elif kind == "redis" and self._redis is not None:
            try:
                await self._redis.zrem(key, value)
            except Exception:  # the lease ends by itself
                logger.debug("judge concurrency slot not released", exc_info=True)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
