"""Master playlists capped at the caller's tier, and signed media that re-checks the tier on every fetch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

from musicconnect.domain.accounts import Caller
from musicconnect.domain.errors import Conflict, NotFound, SignatureInvalid
from musicconnect.domain.hls import listed_rungs, referenced_uris
from musicconnect.domain.tiers import Tier
from musicconnect.domain.tracks import Track
from musicconnect.usecases.caching import ReadyTracks
from musicconnect.usecases.streaming import MediaFile, authorise_stream, media_path, serve_media
from musicconnect.usecases.subscriptions import Subscriptions
from tests.unit.usecases.conftest import INIT, SEGMENTS, VARIANT, DecliningPaymentGateway, World, billing_on

LONG_TTL = timedelta(days=90)


def _master(world: World, caller: Caller, track: Track, ttl: timedelta = timedelta(hours=2)) -> str:
    return authorise_stream(
        track.id,
        caller=caller,
        uow=world.uow(),
        tracks=ReadyTracks(),
        cache=world.cache,
        signer=world.signer,
        clock=world.clock,
        ttl=ttl,
    )


def _variant_urls(master: str) -> dict[int, str]:
    return dict(zip(listed_rungs(master), referenced_uris(master), strict=True))


def _parts(url: str) -> tuple[str, str, str, str, dict[str, str]]:
    """(artist id, track id, rung, file name, query) of a signed ``/media/...`` URL."""
    split = urlsplit(url)
    root, media, artists, artist_id, tracks, track_id, hls, rung, filename = split.path.split("/")
    assert (root, media, artists, tracks, hls) == ("", "media", "artists", "tracks", "hls")
    return artist_id, track_id, rung, filename, dict(parse_qsl(split.query))


def _serve(world: World, url: str) -> MediaFile:
    artist_id, track_id, rung, filename, query = _parts(url)
    return serve_media(
        artist_id,
        track_id,
        rung,
        filename,
        query,
        uow=world.uow(),
        tracks=ReadyTracks(),
        cache=world.cache,
        storage=world.storage,
        signer=world.signer,
        clock=world.clock,
    )


def _signed(world: World, listener: Caller, track: Track, kbps: int, filename: str = VARIANT) -> str:
    """A correctly signed URL the listener could have guessed or been handed."""
    return world.signer.sign(
        media_path(track.artist_id, track.id, kbps, filename),
        subject=listener.id,
        expires_at=world.clock.now() + LONG_TTL,
    )


def _expires(url: str) -> datetime:
    return datetime.fromtimestamp(int(_parts(url)[4]["exp"]), tz=UTC)


@pytest.mark.parametrize(
    ("tier", "rungs"),
    [(Tier.FREE, [128]), (Tier.SUPPORTER, [128, 256]), (Tier.SUPERFAN, [128, 256, 320])],
)
def test_the_master_playlist_lists_only_the_rungs_the_tier_allows(
    world: World, tier: Tier, rungs: list[int]
) -> None:
    """Each listed variant URI is signed for this caller and expires after the TTL."""
    artist = world.artist()
    track = world.ingest(artist)
    fan = world.fan_on(artist, tier)

    master = _master(world, fan, track)

    variants = _variant_urls(master)
    assert list(variants) == rungs
    for kbps, url in variants.items():
        _, track_id, rung, filename, query = _parts(url)
        assert (track_id, rung, filename) == (track.id, f"{kbps}k", VARIANT)
        path = media_path(track.artist_id, track.id, kbps, VARIANT)
        assert world.signer.verify(path, query, now=world.clock.now()) == fan.id
        assert _expires(url) == world.clock.now() + timedelta(hours=2)


def test_the_artist_streams_their_own_track_at_every_rung(world: World) -> None:
    """The owner is never capped, even with no subscription."""
    artist = world.artist()
    track = world.ingest(artist)

    assert listed_rungs(_master(world, artist, track)) == [128, 256, 320]


def test_an_upgrade_returns_a_richer_master_on_the_next_fetch(world: World) -> None:
    """Supporter's two rungs, then three right after upgrading."""
    artist = world.artist()
    track = world.ingest(artist)
    fan = world.fan_on(artist, Tier.SUPPORTER)
    assert listed_rungs(_master(world, fan, track)) == [128, 256]

    world.subscriptions.change_tier(artist.id, Tier.SUPERFAN, caller=fan)

    assert listed_rungs(_master(world, fan, track)) == [128, 256, 320]


def test_a_track_still_processing_cannot_be_streamed(world: World) -> None:
    """Conflict until its ladder is published."""
    artist = world.artist()
    world.auto_transcode = False
    track = world.ingest(artist)

    with pytest.raises(Conflict):
        _master(world, artist, track)


def test_a_track_the_caller_may_not_see_cannot_be_streamed(world: World) -> None:
    """An exclusive is NotFound for a free fan, in the master and through a forged URL alike."""
    artist = world.artist()
    track = world.ingest(artist, exclusive=True)
    fan = world.fan()

    with pytest.raises(NotFound):
        _master(world, fan, track)
    with pytest.raises(NotFound):
        _serve(world, _signed(world, fan, track, 128))


def test_a_variant_playlist_comes_back_with_every_uri_signed(world: World) -> None:
    """Init file and segments are rewritten into URLs signed for the same listener and rung."""
    artist = world.artist()
    track = world.ingest(artist)
    fan = world.fan_on(artist, Tier.SUPPORTER)
    url = _variant_urls(_master(world, fan, track))[256]

    served = _serve(world, url)

    assert served.content_type == "application/vnd.apple.mpegurl"
    uris = referenced_uris(served.body.decode())
    assert [_parts(u)[2:4] for u in uris] == [("256k", name) for name in (INIT, *SEGMENTS)]
    for uri in uris:
        _, _, _, filename, query = _parts(uri)
        path = media_path(track.artist_id, track.id, 256, filename)
        assert world.signer.verify(path, query, now=world.clock.now()) == fan.id


def test_a_segment_is_served_through_its_signed_url(world: World) -> None:
    """The bytes the transcoder wrote for that rung, as audio/mp4."""
    artist = world.artist()
    track = world.ingest(artist)
    fan = world.fan_on(artist, Tier.SUPERFAN)
    variant = _serve(world, _variant_urls(_master(world, fan, track))[320])
    segment_url = referenced_uris(variant.body.decode())[1]

    segment = _serve(world, segment_url)

    assert segment.body == world.storage.get_bytes(f"{track.hls_prefix}/320k/{SEGMENTS[0]}")
    assert segment.content_type == "audio/mp4"


def _tampered(url: str, **changes: str) -> str:
    split = urlsplit(url)
    query = dict(parse_qsl(split.query)) | changes
    return split._replace(query="&".join(f"{k}={v}" for k, v in query.items())).geturl()


def test_a_tampered_url_is_refused(world: World) -> None:
    """A changed signature, subject, expiry or rung, or no signature at all: SignatureInvalid."""
    artist = world.artist()
    track = world.ingest(artist)
    fan, other = world.fan_on(artist, Tier.SUPPORTER), world.fan_on(artist, Tier.SUPERFAN)
    url = _variant_urls(_master(world, fan, track))[256]
    exp = _parts(url)[4]["exp"]
    forged = [
        _tampered(url, sig="A" + _parts(url)[4]["sig"][1:]),
        _tampered(url, sub=other.id),
        _tampered(url, exp=str(int(exp) + 3600)),
        url.replace("/256k/", "/128k/"),
        url.split("?", 1)[0],
    ]

    for bad in forged:
        with pytest.raises(SignatureInvalid):
            _serve(world, bad)
    assert _serve(world, url).body


def test_an_expired_url_is_refused(world: World) -> None:
    """Valid up to a second before its expiry, refused from then on."""
    artist = world.artist()
    track = world.ingest(artist)
    fan = world.fan_on(artist, Tier.SUPPORTER)
    url = _variant_urls(_master(world, fan, track))[128]

    world.clock.advance(timedelta(hours=2) - timedelta(seconds=1))
    _serve(world, url)
    world.clock.advance(timedelta(seconds=1))

    with pytest.raises(SignatureInvalid):
        _serve(world, url)


def test_a_validly_signed_url_above_the_tier_is_refused(world: World) -> None:
    """A free fan holding a genuine signature for 256k or 320k still gets nothing but 128k."""
    artist = world.artist()
    track = world.ingest(artist)
    fan = world.fan()

    for kbps in (256, 320):
        with pytest.raises(SignatureInvalid):
            _serve(world, _signed(world, fan, track, kbps))
    assert _serve(world, _signed(world, fan, track, 128)).body


def test_a_rung_the_track_does_not_have_is_refused(world: World) -> None:
    """A signed 64k URL (below the tier, but not in the ladder) is refused; a malformed rung is not found."""
    artist = world.artist()
    track = world.ingest(artist)
    fan = world.fan_on(artist, Tier.SUPERFAN)

    with pytest.raises(SignatureInvalid):
        _serve(world, _signed(world, fan, track, 64))
    with pytest.raises(NotFound):
        serve_media(
            track.artist_id,
            track.id,
            "high",
            VARIANT,
            {},
            uow=world.uow(),
            tracks=ReadyTracks(),
            cache=world.cache,
            storage=world.storage,
            signer=world.signer,
            clock=world.clock,
        )


def test_a_downgraded_fan_loses_the_top_rung_at_period_end_even_with_an_old_url(world: World) -> None:
    """A long-lived 320k URL works until the downgrade takes effect, then is refused; 256k still works."""
    artist = world.artist()
    track = world.ingest(artist)
    fan = world.fan_on(artist, Tier.SUPERFAN)
    urls = _variant_urls(_master(world, fan, track, ttl=LONG_TTL))
    world.subscriptions.change_tier(artist.id, Tier.SUPPORTER, caller=fan)
    subscription = world.live_subscription(fan, artist)
    assert subscription is not None

    world.clock.set(subscription.current_period_end - timedelta(seconds=1))
    _serve(world, urls[320])
    world.clock.set(subscription.current_period_end)

    with pytest.raises(SignatureInvalid):
        _serve(world, urls[320])
    _serve(world, urls[256])
    world.subscriptions.run_billing()
    with pytest.raises(SignatureInvalid):
        _serve(world, urls[320])


def test_a_past_due_fan_keeps_the_rungs_through_grace_then_drops_to_128k(
    world: World, declining_gateway: DecliningPaymentGateway
) -> None:
    """A declined renewal: old URLs keep working for the grace days, then only 128k is served."""
    artist = world.artist()
    track = world.ingest(artist)
    fan = world.fan_on(artist, Tier.SUPERFAN)
    urls = _variant_urls(_master(world, fan, track, ttl=LONG_TTL))
    subscription = world.live_subscription(fan, artist)
    assert subscription is not None

    world.clock.set(subscription.current_period_end)
    report = Subscriptions(world.uow, billing_on(declining_gateway), world.ids, world.clock).run_billing()
    assert report.past_due == 1
    world.clock.advance(timedelta(days=7) - timedelta(seconds=1))
    assert all(_serve(world, url).body for url in urls.values())
    world.clock.advance(timedelta(seconds=1))

    for kbps in (256, 320):
        with pytest.raises(SignatureInvalid):
            _serve(world, urls[kbps])
    _serve(world, urls[128])
    assert listed_rungs(_master(world, fan, track)) == [128]


def test_a_canceled_fan_is_free_after_the_paid_period(world: World) -> None:
    """Access stays until period end, then the old 256k URL is refused."""
    artist = world.artist()
    track = world.ingest(artist)
    fan = world.fan_on(artist, Tier.SUPPORTER)
    urls = _variant_urls(_master(world, fan, track, ttl=LONG_TTL))
    ended = world.subscriptions.cancel(artist.id, caller=fan)

    world.clock.set(ended.current_period_end - timedelta(seconds=1))
    _serve(world, urls[256])
    world.clock.set(ended.current_period_end)
    world.subscriptions.run_billing()

    with pytest.raises(SignatureInvalid):
        _serve(world, urls[256])
    _serve(world, urls[128])
