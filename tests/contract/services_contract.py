"""What every adapter of the small service ports must do.

Each contract has one factory hook. Ports whose behaviour depends on time take a ``FrozenClock``
that starts at the real current instant; the contract moves time on with ``pass_time``, which by
default advances that clock. An adapter that keeps time on a server (Redis key expiry) overrides
``pass_time`` to also sleep for ``delta``, so the contract's windows are kept to a second or two.
"""

from __future__ import annotations

import asyncio
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from musicconnect.adapters.memory.services import FrozenClock, SystemClock
from musicconnect.ports.services import (
    AccessReads,
    Cache,
    Clock,
    IdGenerator,
    OneTimeTokens,
    QuotaCounter,
    TokenDenylist,
)

#: Ids end up in storage keys, URLs and file paths.
_URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


class TimeControl:
    clock: FrozenClock

    @pytest.fixture(autouse=True)
    def _contract_clock(self) -> None:
        self.clock = FrozenClock(SystemClock().now())

    def pass_time(self, clock: FrozenClock, delta: timedelta) -> None:
        """Let ``delta`` go by for the adapter under test."""
        clock.advance(delta)


class ClockContract:
    def make_clock(self) -> Clock:
        raise NotImplementedError

    def test_now_is_timezone_aware_utc(self) -> None:
        """now() carries a UTC offset of zero."""
        now = self.make_clock().now()

        assert now.tzinfo is not None
        assert now.utcoffset() == timedelta(0)

    def test_now_never_goes_backwards(self) -> None:
        """Successive readings are non-decreasing."""
        clock = self.make_clock()

        readings = [clock.now() for _ in range(100)]

        assert readings == sorted(readings)


class IdGeneratorContract:
    def make_id_generator(self) -> IdGenerator:
        raise NotImplementedError

    def test_ten_thousand_ids_are_unique(self) -> None:
        """No id repeats among 10 000 from one generator."""
        generator = self.make_id_generator()

        ids = [generator.new_id() for _ in range(10_000)]

        assert len(set(ids)) == 10_000

    def test_ids_are_url_safe(self) -> None:
        """Ids are non-empty and made of letters, digits, '-' and '_' only."""
        generator = self.make_id_generator()

        ids = [generator.new_id() for _ in range(100)]

        assert all(_URL_SAFE.match(i) for i in ids), ids[:3]

    def test_ids_from_concurrent_threads_are_unique(self) -> None:
        """Threads sharing a generator never receive the same id."""
        generator = self.make_id_generator()

        with ThreadPoolExecutor(max_workers=4) as pool:
            batches = list(pool.map(lambda _: [generator.new_id() for _ in range(2_500)], range(4)))

        assert len({i for batch in batches for i in batch}) == 10_000


class QuotaCounterContract(TimeControl):
    def make_quota_counter(self, clock: FrozenClock) -> QuotaCounter:
        """A counter with no keys in use, whose windows end by ``clock``."""
        raise NotImplementedError

    def test_the_limit_is_respected(self) -> None:
        """acquire succeeds ``limit`` times, then refuses; used counts what was taken."""
        quota = self.make_quota_counter(self.clock)
        resets_at = self.clock.now() + timedelta(days=30)

        results = [quota.acquire("dm:a:f", limit=5, resets_at=resets_at) for _ in range(7)]

        assert results == [True] * 5 + [False] * 2
        assert quota.used("dm:a:f") == 5

    def test_exactly_limit_of_fifty_concurrent_acquires_succeed(self) -> None:
        """Under 50 threads at once, the counter grants exactly ``limit`` units."""
        quota = self.make_quota_counter(self.clock)
        resets_at = self.clock.now() + timedelta(days=30)
        start = threading.Barrier(50)

        def attempt(_: int) -> bool:
            start.wait(timeout=10)
            return quota.acquire("dm:a:f", limit=5, resets_at=resets_at)

        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(attempt, range(50)))

        assert results.count(True) == 5
        assert quota.used("dm:a:f") == 5

    def test_release_gives_a_unit_back(self) -> None:
        """After release, one more acquire succeeds; used follows."""
        quota = self.make_quota_counter(self.clock)
        resets_at = self.clock.now() + timedelta(days=30)
        taken = [quota.acquire("k", limit=2, resets_at=resets_at) for _ in range(3)]

        quota.release("k")
        after_release = quota.used("k")
        again = [quota.acquire("k", limit=2, resets_at=resets_at) for _ in range(2)]

        assert taken == [True, True, False]
        assert after_release == 1
        assert again == [True, False]
        assert quota.used("k") == 2

    def test_release_never_goes_below_zero(self) -> None:
        """Releasing an unused key leaves it at zero, with the full limit available."""
        quota = self.make_quota_counter(self.clock)
        resets_at = self.clock.now() + timedelta(days=30)

        quota.release("k")
        results = [quota.acquire("k", limit=1, resets_at=resets_at) for _ in range(2)]

        assert results == [True, False]

    def test_keys_are_independent(self) -> None:
        """Using up one key leaves another untouched."""
        quota = self.make_quota_counter(self.clock)
        resets_at = self.clock.now() + timedelta(days=30)
        for _ in range(3):
            quota.acquire("fan-1", limit=3, resets_at=resets_at)

        other = quota.acquire("fan-2", limit=3, resets_at=resets_at)

        assert other is True
        assert (quota.used("fan-1"), quota.used("fan-2"), quota.used("fan-3")) == (3, 1, 0)

    def test_the_count_resets_at_resets_at(self) -> None:
        """Once ``resets_at`` has passed, the key starts again from zero."""
        quota = self.make_quota_counter(self.clock)
        resets_at = self.clock.now() + timedelta(seconds=1)
        before = [quota.acquire("k", limit=2, resets_at=resets_at) for _ in range(3)]

        self.pass_time(self.clock, timedelta(seconds=1.2))
        used_after_reset = quota.used("k")
        after = quota.acquire("k", limit=2, resets_at=self.clock.now() + timedelta(seconds=30))

        assert before == [True, True, False]
        assert used_after_reset == 0
        assert after is True
        assert quota.used("k") == 1


class CacheContract(TimeControl):
    def make_cache(self, clock: FrozenClock) -> Cache:
        """An empty cache whose entries expire by ``clock``."""
        raise NotImplementedError

    def test_set_then_get(self) -> None:
        """A stored value reads back byte for byte; a missing key is None."""
        cache = self.make_cache(self.clock)

        cache.set("k", b"\x00\xffpayload", ttl_s=60)

        assert cache.get("k") == b"\x00\xffpayload"
        assert cache.get("missing") is None

    def test_set_overwrites(self) -> None:
        """Setting a key again replaces its value."""
        cache = self.make_cache(self.clock)
        cache.set("k", b"one", ttl_s=60)

        cache.set("k", b"two", ttl_s=60)

        assert cache.get("k") == b"two"

    def test_delete_removes_every_given_key(self) -> None:
        """delete removes each key passed, ignores unknown ones, and keeps the rest."""
        cache = self.make_cache(self.clock)
        for key in ("a", "b", "c"):
            cache.set(key, key.encode(), ttl_s=60)

        cache.delete("a", "c", "never-set")

        assert [cache.get(k) for k in ("a", "b", "c")] == [None, b"b", None]

    def test_entries_expire_after_their_ttl(self) -> None:
        """An entry is gone once its ttl has passed; one with a longer ttl stays."""
        cache = self.make_cache(self.clock)
        cache.set("short", b"s", ttl_s=1)
        cache.set("long", b"l", ttl_s=60)
        fresh = cache.get("short")

        self.pass_time(self.clock, timedelta(seconds=1.2))

        assert fresh == b"s"
        assert cache.get("short") is None
        assert cache.get("long") == b"l"


class TokenDenylistContract(TimeControl):
    def make_denylist(self, clock: FrozenClock) -> TokenDenylist:
        """An empty denylist whose entries lapse by ``clock``."""
        raise NotImplementedError

    def test_a_token_is_revoked_until_until(self) -> None:
        """A revoked id reads as revoked, and no longer once ``until`` has passed."""
        denylist = self.make_denylist(self.clock)
        denylist.revoke("jti-1", until=self.clock.now() + timedelta(seconds=1))
        during = denylist.is_revoked("jti-1")

        self.pass_time(self.clock, timedelta(seconds=1.2))

        assert during is True
        assert denylist.is_revoked("jti-1") is False

    def test_only_revoked_tokens_are_revoked(self) -> None:
        """Ids never revoked read as not revoked; revocations are independent."""
        denylist = self.make_denylist(self.clock)
        denylist.revoke("jti-1", until=self.clock.now() + timedelta(minutes=15))
        denylist.revoke("jti-2", until=self.clock.now() + timedelta(seconds=1))

        self.pass_time(self.clock, timedelta(seconds=1.2))

        assert [denylist.is_revoked(t) for t in ("jti-1", "jti-2", "jti-3")] == [True, False, False]

    def test_several_ids_are_revoked_when_any_one_is(self) -> None:
        """is_revoked(token, family) is one look: true if either id is revoked, false for none."""
        denylist = self.make_denylist(self.clock)
        denylist.revoke("family-1", until=self.clock.now() + timedelta(minutes=15))

        assert denylist.is_revoked("jti-1", "family-1") is True
        assert denylist.is_revoked("family-1", "jti-1") is True
        assert denylist.is_revoked("jti-1", "family-2") is False
        assert denylist.is_revoked() is False

    def test_a_single_use_token_is_spent_once(self) -> None:
        """The first spend says True and revokes it; every later spend says False."""
        denylist = self.make_denylist(self.clock)
        until = self.clock.now() + timedelta(minutes=15)

        spends = [denylist.spend("refresh-1", until=until) for _ in range(3)]

        assert spends == [True, False, False]
        assert denylist.is_revoked("refresh-1") is True
        assert denylist.is_revoked("refresh-2") is False

    def test_a_revoked_or_expired_token_cannot_be_spent(self) -> None:
        denylist = self.make_denylist(self.clock)
        denylist.revoke("logged-out", until=self.clock.now() + timedelta(minutes=15))

        revoked = denylist.spend("logged-out", until=self.clock.now() + timedelta(minutes=15))
        expired = denylist.spend("old", until=self.clock.now() - timedelta(seconds=1))

        assert (revoked, expired) == (False, False)
        assert denylist.is_revoked("old") is False, "an expired token leaves nothing behind"

    def test_of_many_spends_at_once_exactly_one_wins(self) -> None:
        """Two requests racing with one refresh token must not both get a new pair."""
        denylist = self.make_denylist(self.clock)
        until = self.clock.now() + timedelta(minutes=15)
        start = threading.Barrier(16)

        def spend(_: int) -> bool:
            start.wait(timeout=30)
            return denylist.spend("raced", until=until)

        with ThreadPoolExecutor(max_workers=16) as pool:
            outcomes = list(pool.map(spend, range(16)))

        assert outcomes.count(True) == 1


class OneTimeTokensContract(TimeControl):
    def make_one_time_tokens(self, clock: FrozenClock) -> OneTimeTokens:
        """An empty store whose entries lapse by ``clock``."""
        raise NotImplementedError

    def test_a_value_is_taken_once(self) -> None:
        """take returns the value the first time and None from then on."""
        tokens = self.make_one_time_tokens(self.clock)
        tokens.put("digest-1", "verify\nacct-1\nada@example.com", until=self.clock.now() + timedelta(hours=1))

        taken = [tokens.take("digest-1") for _ in range(3)]

        assert taken == ["verify\nacct-1\nada@example.com", None, None]
        assert tokens.take("digest-2") is None

    def test_a_value_lapses_at_until(self) -> None:
        """A value not taken before ``until`` is gone."""
        tokens = self.make_one_time_tokens(self.clock)
        tokens.put("digest-1", "v", until=self.clock.now() + timedelta(seconds=1))

        self.pass_time(self.clock, timedelta(seconds=1.2))

        assert tokens.take("digest-1") is None

    def test_values_are_independent_and_any_text(self) -> None:
        """Each digest keeps its own value, non-ASCII included."""
        tokens = self.make_one_time_tokens(self.clock)
        until = self.clock.now() + timedelta(hours=1)
        tokens.put("a", "première", until=until)
        tokens.put("b", "second", until=until)

        assert (tokens.take("b"), tokens.take("a")) == ("second", "première")

    def test_concurrent_takers_get_the_value_once(self) -> None:
        """Of 16 threads taking one digest at once, exactly one gets the value."""
        tokens = self.make_one_time_tokens(self.clock)
        tokens.put("digest-1", "v", until=self.clock.now() + timedelta(hours=1))
        start = threading.Barrier(16)

        def take() -> str | None:
            start.wait()
            return tokens.take("digest-1")

        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(lambda _: take(), range(16)))

        assert results.count("v") == 1
        assert results.count(None) == 15


class AccessReadsContract(TimeControl):
    """AccessReads see what the denylist and the cache they stand for hold, at once."""

    def make_access_reads(self, clock: FrozenClock) -> tuple[AccessReads, TokenDenylist, Cache]:
        """Access reads, and the denylist and cache whose writes they must see."""
        raise NotImplementedError

    def test_a_fresh_token_without_an_entry_is_not_revoked_and_misses(self) -> None:
        """Nothing revoked, nothing cached: (False, None)."""
        reads, _, _ = self.make_access_reads(self.clock)

        assert asyncio.run(reads.read(["jti", "family"], ["standing:fan:artist"])) == (False, (None,))

    def test_a_revoked_token_or_family_reads_as_revoked(self) -> None:
        """Revoking either id through the denylist makes the pair revoked; other pairs stay clear."""
        reads, denylist, _ = self.make_access_reads(self.clock)
        later = self.clock.now() + timedelta(minutes=15)
        denylist.revoke("family-1", until=later)
        denylist.revoke("jti-2", until=later)

        outcomes = [
            asyncio.run(reads.read(pair, []))[0]
            for pair in (["jti-1", "family-1"], ["jti-2", "family-2"], ["jti-3", "family-3"])
        ]

        assert outcomes == [True, True, False]

    def test_a_revocation_lapses_with_its_token(self) -> None:
        """Once ``until`` has passed, the id is no longer revoked here either."""
        reads, denylist, _ = self.make_access_reads(self.clock)
        denylist.revoke("jti", until=self.clock.now() + timedelta(seconds=1))
        during = asyncio.run(reads.read(["jti"], []))

        self.pass_time(self.clock, timedelta(seconds=1.2))

        assert during == (True, ())
        assert asyncio.run(reads.read(["jti"], [])) == (False, ())

    def test_the_cache_entries_are_read_byte_for_byte_alongside_in_order(self) -> None:
        """The entries the cache holds come back with the revocation check, in the order asked;
        a missing key reads None, no keys read nothing."""
        reads, denylist, cache = self.make_access_reads(self.clock)
        cache.set("standing:fan:artist", b'{"tier":"superfan"}\x00\xff', ttl_s=60)
        cache.set("track-mark:t1", b"\x01mark", ttl_s=60)
        denylist.revoke("gone", until=self.clock.now() + timedelta(minutes=1))

        with_keys = asyncio.run(
            reads.read(["gone"], ["track-mark:t1", "nothing-here", "standing:fan:artist"])
        )
        without_key = asyncio.run(reads.read(["fine"], []))
        cache.delete("standing:fan:artist")
        deleted = asyncio.run(reads.read(["fine"], ["standing:fan:artist", "track-mark:t1"]))

        assert with_keys == (True, (b"\x01mark", None, b'{"tier":"superfan"}\x00\xff'))
        assert without_key == (False, ())
        assert deleted == (False, (None, b"\x01mark"))

    def test_asking_nothing_answers_nothing(self) -> None:
        """No ids and no key: not revoked, no entry."""
        reads, _, _ = self.make_access_reads(self.clock)

        assert asyncio.run(reads.read([], [])) == (False, ())
