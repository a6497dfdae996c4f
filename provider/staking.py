"""A provider's stake on chain: register, add, unbond, withdraw, and where it stands."""

from __future__ import annotations

import time
from dataclasses import dataclass

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from marketplace.chain import (
    MarketAccount,
    ProviderAccount,
    ProviderStatus,
    provider_address,
)
from marketplace.chain import instructions as ix
from marketplace.chain.client import Sent, TesseraChain
from provider.errors import StakeError


@dataclass(frozen=True)
class StakeReport:
    owner: Pubkey
    provider: Pubkey
    registered: bool
    wallet: int  # lamports in the owner's wallet
    stake: int
    locked: int  # held as collateral by work awaiting settlement
    unbonding: int
    unbond_at: int  # unix seconds when the unbonding stake can be withdrawn
    min_stake: int
    status: ProviderStatus | None
    shards_served: int
    shards_slashed: int
    endpoint: str

    @property
    def withdrawable_in(self) -> int:
        """Seconds until the unbonding stake can be withdrawn (0: now, or nothing unbonding)."""
        return max(0, self.unbond_at - int(time.time())) if self.unbonding else 0


class Staking:
    def __init__(self, chain: TesseraChain, owner: Keypair, market: Pubkey) -> None:
        self.chain, self.owner, self.market = chain, owner, market
        self.address = provider_address(market, owner.pubkey())[0]

    async def _market(self) -> MarketAccount:
        market = await self.chain.fetch(MarketAccount, self.market)
        if market is None:
            raise StakeError(f"no market at {self.market} on {self.chain.url}")
        return market

    async def _provider(self) -> ProviderAccount:
        account = await self.chain.fetch(ProviderAccount, self.address)
        if account is None:
            raise StakeError(f"{self.owner.pubkey()} is not registered in market {self.market}: run `tessera provider register`")
        return account

    async def _send(self, instruction) -> Sent:
        return await self.chain.send([instruction], [self.owner])

    async def register(self, stake: int, endpoint: str, capacity: int) -> Sent:
        market = await self._market()
        if await self.chain.fetch(ProviderAccount, self.address) is not None:
            raise StakeError(f"{self.owner.pubkey()} is already registered; use `tessera provider stake` to add stake")
        if stake < market.min_stake:
            raise StakeError(f"the market's minimum stake is {market.min_stake} lamports; {stake} is not enough")
        return await self._send(ix.register_provider(self.owner.pubkey(), self.market, endpoint, stake, capacity))

    async def add(self, amount: int) -> Sent:
        await self._provider()
        return await self._send(ix.add_stake(self.owner.pubkey(), self.market, amount))

    async def unstake(self, amount: int) -> Sent:
        account = await self._provider()
        if amount > account.free_stake:
            raise StakeError(f"only {account.free_stake} lamports are free ({account.locked_stake} locked by open work)")
        return await self._send(ix.request_unstake(self.owner.pubkey(), self.market, amount))

    async def withdraw(self) -> Sent:
        account = await self._provider()
        if not account.unbonding_stake:
            raise StakeError("nothing is unbonding: request it with `tessera provider unstake` first")
        if account.unbond_at > time.time():
            raise StakeError(f"the unbonding stake can be withdrawn in {account.unbond_at - int(time.time())} s")
        return await self._send(ix.withdraw_stake(self.owner.pubkey(), self.market))

    async def report(self) -> StakeReport:
        market = await self._market()
        account = await self.chain.fetch(ProviderAccount, self.address)
        wallet = await self.chain.balance(self.owner.pubkey())
        if account is None:
            return StakeReport(self.owner.pubkey(), self.address, False, wallet, 0, 0, 0, 0, market.min_stake, None, 0, 0, "")
        return StakeReport(self.owner.pubkey(), self.address, True, wallet, account.stake, account.locked_stake,
                           account.unbonding_stake, account.unbond_at, market.min_stake, account.status,
                           account.shards_served, account.shards_slashed, account.endpoint)
