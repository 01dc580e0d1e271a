"""Sign-in throttling: failed attempts counted per account and per client address, in tiers of growing windows.

The tiers (e.g. 5 a minute, 10 in 15 minutes, 20 an hour, 50 a day) are a stepped backoff: each lock lasts
until the window of the tier that ran out ends. Counters live in a `limits` storage: `memory://` in the
process, or a shared store (`redis://…`) so that every worker counts the same attempts.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.errors import ConfigurationError, StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from lims.i18n import _N
from lims.services.core.errors import Busy
from lims.settings import Settings, SettingsError, get_settings

ACCOUNT = "signin-account"
STORE_UNREACHABLE = _N("sign-in is unavailable for a moment (the shared store does not answer); try again shortly")
ADDRESS = "signin-address"


def address_key(address: str) -> str:
    """The key an address is counted under: IPv4 as is, IPv6 by its /64 (one subscriber's whole network)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def trusted_networks(setting: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The proxies named in LIMS_TRUSTED_PROXIES (IPs or CIDRs, comma-separated)."""
    try:
        return [ipaddress.ip_network(part.strip(), strict=False) for part in setting.split(",") if part.strip()]
    except ValueError as exc:
        raise SettingsError(f"LIMS_TRUSTED_PROXIES: {exc}") from None


def is_trusted_proxy(address: str, trusted: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    """Whether `address` is one of the proxies in LIMS_TRUSTED_PROXIES."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in trusted)


def client_address(
    peer: str, forwarded_for: str | None, trusted: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy; then the nearest hop in
    X-Forwarded-For that is not itself a trusted proxy (anything left of it could be forged)."""

    def is_trusted(address: str) -> bool:
        return is_trusted_proxy(address, trusted)

    if not trusted or not is_trusted(peer) or not forwarded_for:
        return peer
    hops = [hop.strip() for hop in forwarded_for[:2000].split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop):
            return hop[:64]
    return hops[0][:64] if hops else peer


def account_key(username: str) -> str:
    """The key a user name is counted under, whether or not the account exists (so 429 reveals nothing)."""
    return hashlib.sha256(username.casefold().encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Lock:
    """Why a sign-in is refused without checking the password, and for how long."""

    scope: str  # "account" | "address"
    retry_after: int


def fixed_windows(
    what: str, storage_url: str, *limit_settings: str
) -> tuple[Storage, FixedWindowRateLimiter, list[list[RateLimitItem]]]:
    """The counting storage at `storage_url`, a fixed-window limiter on it, and each limits setting parsed;
    SettingsError naming `what` (e.g. "sign-in") when a setting or the storage is not usable."""
    try:
        parsed = [parse_many(setting) for setting in limit_settings]
        # On a shared Redis the counters carry the deployment's prefix, so two installations never count together.
        # Its errors arrive as limits' StorageError, so a store that went away is told apart from a bug.
        shared: dict[str, str | bool] = {}
        if storage_url.startswith("redis"):
            shared = {"key_prefix": f"{get_settings().redis_prefix}:limits", "wrap_exceptions": True}
        store = storage_from_string(storage_url, **shared)
    except (ValueError, ConfigurationError) as exc:
        raise SettingsError(f"{what} throttling: {exc}") from None
    if not isinstance(store, Storage):
        raise SettingsError(f"{what} throttling needs a synchronous storage, not {storage_url!r}")
    return store, FixedWindowRateLimiter(store), parsed


class SignInThrottle:
    """Counts failed sign-ins and says when an account or an address must wait."""

    def __init__(self, account_limits: str, address_limits: str, storage_url: str = "memory://") -> None:
        self.storage, self._limiter, (self.account_limits, self.address_limits) = fixed_windows(
            "sign-in", storage_url, account_limits, address_limits
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInThrottle:
        """The throttle the settings describe."""
        return cls(
            settings.signin_account_limits, settings.signin_address_limits, settings.resolved_throttle_storage_url()
        )

    def _tiers(self, username: str, address: str) -> list[tuple[str, RateLimitItem, str]]:
        return [(ACCOUNT, item, account_key(username)) for item in self.account_limits] + [
            (ADDRESS, item, address_key(address)) for item in self.address_limits
        ]

    def lock(self, username: str, address: str) -> Lock | None:
        """The longest wait among the tiers this account or address has used up, or None; 503 while the shared
        store cannot be reached (sign-in is refused rather than left uncounted)."""
        try:
            return self._lock(username, address)
        except StorageError:
            raise Busy("throttle.store_unreachable", STORE_UNREACHABLE, retry_after=5) from None

    def _lock(self, username: str, address: str) -> Lock | None:
        longest: Lock | None = None
        for scope, item, key in self._tiers(username, address):
            if self._limiter.test(item, scope, key):
                continue
            reset = self._limiter.get_window_stats(item, scope, key).reset_time
            wait = max(1, math.ceil(reset - time.time()))
            if longest is None or wait > longest.retry_after:
                longest = Lock(scope.removeprefix("signin-"), wait)
        return longest

    def failed(self, username: str, address: str) -> None:
        """Count one failed attempt against the account and the address."""
        try:
            for scope, item, key in self._tiers(username, address):
                self._limiter.hit(item, scope, key)
        except StorageError:
            raise Busy("throttle.store_unreachable", STORE_UNREACHABLE, retry_after=5) from None

    def succeeded(self, username: str) -> None:
        """A correct password clears the account's count; the address keeps its count (a password sprayer
        who owns one account must not be able to wipe the address's record by signing in to it)."""
        for item in self.account_limits:
            self._limiter.clear(item, ACCOUNT, account_key(username))
