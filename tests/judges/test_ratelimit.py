"""The provider rate limit: one bucket shared by every worker through Redis, or per process without it."""

import asyncio
import time
import uuid

import pytest
import redis

from judges.ratelimit import RateLimiter

REDIS_URL = "redis://127.0.0.1:6379/9"


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


async def _take(limiters, n, **limits):
    start = time.monotonic()
    base_url = f"http://{uuid.uuid4().hex}.test"
    for i in range(n):
        await limiters[i % len(limiters)].acquire(provider="openai", base_url=base_url, tokens=100, **limits)
    return time.monotonic() - start


def test_it_limits_requests_per_minute_in_one_process():
    # 600/min: a 10-second burst of 100, then 10 per second.
    elapsed = asyncio.run(_take([RateLimiter("")], 103, rpm=600, tpm=None))
    assert 0.25 <= elapsed < 1.5


def test_it_limits_tokens_per_minute():
    # 60,000 tokens/min: a burst of 10,000 (100 requests of 100), then 1,000 tokens (10 requests) per second.
    elapsed = asyncio.run(_take([RateLimiter("")], 102, rpm=None, tpm=60_000))
    assert 0.15 <= elapsed < 1.5


@pytest.mark.skipif(not _redis_up(), reason="Redis is not reachable at 127.0.0.1:6379")
def test_it_shares_one_bucket_between_workers_through_redis():
    async def main():
        workers = [RateLimiter(REDIS_URL), RateLimiter(REDIS_URL)]  # two processes' limiters
        try:
            return await _take(workers, 103, rpm=600, tpm=None)
        finally:
            for limiter in workers:
                await limiter.aclose()

    elapsed = asyncio.run(main())
    assert 0.25 <= elapsed < 1.5  # had each kept its own bucket, all 103 would pass at once


def test_it_falls_back_to_a_process_limit_when_redis_is_down():
    limiter = RateLimiter("redis://127.0.0.1:1/0")
    elapsed = asyncio.run(_take([limiter], 5, rpm=600, tpm=None))
    assert elapsed < 3 and limiter.redis_url == ""
