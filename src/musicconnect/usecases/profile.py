"""The signed-in person's own account: read, change, export, erase; email proofs and resets."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import attrs

from musicconnect.domain.accounts import Account, Caller, Role, check_display_name, normalise_email
from musicconnect.domain.errors import AuthenticationFailed, Conflict, DomainError
from musicconnect.domain.ledger import TransactionKind
from musicconnect.domain.passwords import check_password
from musicconnect.domain.tiers import Tier
from musicconnect.ports.media import MediaStorage
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock, PasswordHasher
from musicconnect.usecases.account_mail import RESET, VERIFY, AccountMail
from musicconnect.usecases.engagement_data import engagement_export, erase_engagement, plain
from musicconnect.usecases.media_cleanup import discard_media, picture_folder
from musicconnect.usecases.subscriptions import Subscriptions

log = logging.getLogger(__name__)


def my_account(caller: Caller, *, uow: UnitOfWork) -> Account:
    with uow:
        account = uow.accounts.get(caller.id)
    if account is None or account.is_erased:
        raise AuthenticationFailed("the account no longer exists")
    return account


@attrs.frozen
class ChangeAccount:
    display_name: str | None = None
    email: str | None = None
    password: str | None = None
    #: Needed to change the email or the password: a stolen access token alone is not enough.
    current_password: str | None = None


def change_account(
    command: ChangeAccount,
    *,
    caller: Caller,
    uow: UnitOfWork,
    hasher: PasswordHasher,
    mail: AccountMail,
    clock: Clock,
) -> Account:
    """Rename at once; a new password after the current one is checked; a new email only once
    a link sent to it is followed (until then the old one stays)."""
    account = my_account(caller, uow=uow)
    changed = account
    if command.display_name is not None:
        changed = attrs.evolve(changed, display_name=check_display_name(command.display_name))
    new_email = normalise_email(command.email) if command.email is not None else None
    if new_email == account.email:
        new_email = None
    sensitive = command.password is not None or new_email is not None
    if sensitive and not hasher.verify(command.current_password or "", account.password_hash):
        raise AuthenticationFailed("the current password is wrong")
    if command.password is not None:
        check_password(command.password, email=account.email)
        changed = attrs.evolve(changed, password_hash=hasher.hash(command.password)).ending_sessions(
            clock.now()
        )
    if changed != account:
        with uow:
            _save_unless_changed_meanwhile(uow, account, changed)
            artist = uow.artists.get(account.id)
            if artist is not None and artist.display_name != changed.display_name:
                uow.artists.save(attrs.evolve(artist, display_name=changed.display_name))
            uow.commit()
    if new_email is not None:
        mail.send_verification(changed, new_email)
    return changed


def confirm_email(token: str, *, uow: UnitOfWork, mail: AccountMail) -> Account:
    """Follow a verification link: the address it was sent to becomes the account's, verified."""
    target = mail.redeem(token, VERIFY)
    with uow:
        account = uow.accounts.get(target.account_id)
        if account is None or account.is_erased:
            raise AuthenticationFailed("this link is invalid, used or expired")
        owner = uow.accounts.by_email(target.email)
        if owner is not None and owner.id != account.id:
            raise Conflict("another account has taken this email meanwhile")
        account = attrs.evolve(account, email=target.email, email_verified=True)
        uow.accounts.save(account)
        uow.commit()
    return account


def request_password_reset(email: str, *, uow: UnitOfWork, mail: AccountMail) -> None:
    """Email a reset link if the account exists; the caller learns nothing either way."""
    with uow:
        account = uow.accounts.by_email(normalise_email(email))
    if account is not None:
        mail.send_reset(account)


def reset_password(
    token: str, password: str, *, uow: UnitOfWork, hasher: PasswordHasher, mail: AccountMail, clock: Clock
) -> None:
    """Follow a reset link with a new password; the link proved the address too. Every login of
    the account ends: whoever resets it may be taking it back from someone."""
    target = mail.redeem(token, RESET)
    with uow:
        account = uow.accounts.get(target.account_id)
    # A link sent to an address the account has left since is refused.
    if account is None or account.is_erased or account.email != target.email:
        raise AuthenticationFailed("this link is invalid, used or expired")
    check_password(password, email=account.email)
    # Hashed before the write (argon2 takes a while): no lock is held meanwhile.
    reset = attrs.evolve(account, password_hash=hasher.hash(password), email_verified=True)
    with uow:
        _save_unless_changed_meanwhile(uow, account, reset.ending_sessions(clock.now()))
        uow.commit()


def _save_unless_changed_meanwhile(uow: UnitOfWork, read: Account, changed: Account) -> None:
    """Save ``changed``, made from ``read`` outside this unit of work, unless the account moved
    on since (erased, say): writing the old copy back would undo that."""
    if uow.accounts.get(read.id) != read:
        raise Conflict("the account changed meanwhile; try again")
    uow.accounts.save(changed)


def export_account(caller: Caller, *, uow: UnitOfWork) -> dict[str, Any]:
    """Everything kept about the caller, as JSON-ready data."""
    account = my_account(caller, uow=uow)
    with uow:
        artist = uow.artists.get(account.id)
        subscriptions = uow.subscriptions.of_fan(account.id)
        tracks = uow.tracks.by_artist(account.id) if artist is not None else ()
        payouts = uow.payouts.of_artist(account.id) if artist is not None else ()
        inbox = uow.messages.to_artist(account.id) if artist is not None else ()
        sent = uow.messages.from_fan(account.id)
        payments = _payments_of(uow, account.id)
        engagement = engagement_export(uow, account.id, artist=artist is not None)
    return {
        "account": {
            "id": account.id,
            "email": account.email,
            "email_verified": account.email_verified,
            "role": account.role.value,
            "display_name": account.display_name,
            "created_at": account.created_at.isoformat(),
        },
        "artist": None
        if artist is None
        else {
            "display_name": artist.display_name,
            "bio": artist.bio,
            "links": list(artist.links),
            "tiers": [plain(plan) for plan in artist.plans],
            "tracks": [plain(track) for track in tracks],
            "payouts": [plain(payout) for payout in payouts],
            "messages_received": [plain(message) for message in inbox],
        },
        "subscriptions": [plain(subscription) for subscription in subscriptions],
        "payments": payments,
        "messages_sent": [plain(message) for message in sent],
        "engagement": engagement,
    }


#: What a fan paid or was paid back; the processor's fee on it is the platform's, not theirs.
_FAN_PAYMENTS = frozenset({TransactionKind.CHARGE, TransactionKind.REFUND})


def _payments_of(uow: UnitOfWork, fan_id: str) -> list[dict[str, Any]]:
    """The person's charges and refunds from the ledger, oldest first: when, how much, to which
    artist, and what for (the ledger keeps them, anonymised, after an erasure)."""
    return [
        {
            "kind": transaction.kind.value,
            "amount_minor": transaction.gross.amount_minor,
            "currency": transaction.gross.currency,
            "artist_id": transaction.artist_id,
            "occurred_at": transaction.occurred_at.isoformat(),
            "what_for": transaction.memo,
        }
        for transaction in uow.ledger.of_fan(fan_id)
        if transaction.kind in _FAN_PAYMENTS and transaction.gross is not None
    ]


def erase_account(
    caller: Caller,
    password: str,
    *,
    uow: UnitOfWork,
    hasher: PasswordHasher,
    subscriptions: Subscriptions,
    storage: MediaStorage | None = None,
) -> None:
    """Forget the person: email, name, password and the words of their messages go; the id
    stays, naming nobody, because ledger rows and payouts must be kept and point at it. Their
    follows, likes, history, Q&A questions and votes, notifications (and, for an artist, Q&As,
    answers, replies and backstage posts) go as ``engagement_data`` says, in the same unit of
    work. An artist's picture and backstage media are deleted from ``storage`` once that is
    committed (``media_cleanup``: a storage that fails to is logged, not the person's error).

    A fan's live subscriptions are cancelled first, through billing, so nobody is charged for a
    person who is gone (they run to the end of what was paid, as any cancellation does). An
    artist is closed for good: their tracks are deleted in the erasing unit of work, and every
    fan's paid subscription to them is cancelled after it, by the fan's own cancel path (the
    artist is closed by then, so no new one can start meanwhile)."""
    account = my_account(caller, uow=uow)
    if not hasher.verify(password, account.password_hash):
        raise AuthenticationFailed("the current password is wrong")
    with uow:
        live = [s for s in uow.subscriptions.of_fan(account.id) if s.is_live and not s.cancel_at_period_end]
    for subscription in live:
        subscriptions.cancel(subscription.artist_id, caller=caller)
    erased = account.erased()
    with uow:
        _save_unless_changed_meanwhile(uow, account, erased)
        artist = uow.artists.get(account.id)
        media = erase_engagement(uow, account.id, artist=artist is not None)
        if artist is not None:
            if artist.image_key is not None:
                media.append(picture_folder(artist.image_key))
            gone = attrs.evolve(artist, display_name=erased.display_name, bio="", links=(), image_key=None)
            uow.artists.save(gone)
            media.extend(_delete_tracks(uow, account.id))
        uow.commit()
    if storage is not None:
        discard_media(storage, *media)
    if artist is not None:
        _cancel_fans_of(account.id, uow=uow, subscriptions=subscriptions)


def _delete_tracks(uow: UnitOfWork, artist_id: str) -> list[str]:
    """Tombstone the artist's tracks, as when they delete one; their media prefixes."""
    prefixes = []
    for track in uow.tracks.by_artist(artist_id):
        if not track.is_deleted:
            uow.tracks.save(track.deleted())
            prefixes.append(track.media_prefix + "/")
    return prefixes


def _cancel_fans_of(artist_id: str, *, uow: UnitOfWork, subscriptions: Subscriptions) -> None:
    """Cancel every fan's paid subscription to the erased artist through billing, as the fan's
    own cancel would. One that cannot be cancelled now (its first payment still open, say) is
    logged, not the erased person's error: the erasure is committed already."""
    with uow:
        live = [
            s
            for s in uow.subscriptions.live_of_artist(artist_id)
            if s.tier is not Tier.FREE and not s.cancel_at_period_end
        ]
    for subscription in live:
        try:
            subscriptions.cancel(artist_id, caller=Caller(subscription.fan_id, Role.FAN))
        except DomainError as error:
            log.warning(
                "subscription %s to erased artist %s not cancelled: %s",
                subscription.id,
                artist_id,
                error.detail,
            )


@attrs.frozen
class Profiles:
    """The signed-in person's own account: read, change, verify, reset, export, erase."""

    uow: Callable[[], UnitOfWork]
    hasher: PasswordHasher
    mail: AccountMail
    clock: Clock
    subscriptions: Subscriptions
    #: Where an erased artist's picture and backstage media are deleted from.
    storage: MediaStorage | None = None

    def mine(self, caller: Caller) -> Account:
        """The caller's account."""
        return my_account(caller, uow=self.uow())

    def change(self, command: ChangeAccount, *, caller: Caller) -> Account:
        """Change the display name; the password or email with the current password."""
        return change_account(
            command, caller=caller, uow=self.uow(), hasher=self.hasher, mail=self.mail, clock=self.clock
        )

    def send_verification(self, caller: Caller) -> None:
        """Send the verification email again, unless the address is verified already."""
        account = self.mine(caller)
        if not account.email_verified:
            self.mail.send_verification(account, account.email)

    def confirm_email(self, token: str) -> Account:
        """Prove an address with the code of its verification email (it works once)."""
        return confirm_email(token, uow=self.uow(), mail=self.mail)

    def request_password_reset(self, email: str) -> None:
        """Email a single-use reset link if the account exists; nothing tells whether it does."""
        request_password_reset(email, uow=self.uow(), mail=self.mail)

    def reset_password(self, token: str, password: str) -> None:
        """Set a new password with the code of a reset email."""
        reset_password(token, password, uow=self.uow(), hasher=self.hasher, mail=self.mail, clock=self.clock)

    def export(self, caller: Caller) -> dict[str, Any]:
        """Every piece of personal data kept about the caller."""
        return export_account(caller, uow=self.uow())

    def erase(self, caller: Caller, password: str) -> None:
        """Erase the account: personal data goes, money records stay anonymised."""
        erase_account(
            caller,
            password,
            uow=self.uow(),
            hasher=self.hasher,
            subscriptions=self.subscriptions,
            storage=self.storage,
        )
