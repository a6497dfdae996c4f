"""Creating and reading a market: what `tessera market init|show` and the local market do."""

from __future__ import annotations

from dataclasses import dataclass

from solana.constants import LAMPORTS_PER_SOL
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client.errors import InvalidRequest
from marketplace.chain import MarketAccount, MarketConfig, market_address
from marketplace.chain import instructions as ix
from marketplace.chain.client import Sent, TesseraChain
from marketplace.economics import cheating_gain, deters


@dataclass(frozen=True)
class MarketSettings:
    verifier: Pubkey  # the aggregator's key: the only one that can settle
    treasury: Pubkey
    min_stake: int = LAMPORTS_PER_SOL
    unbonding_period: int = 60  # seconds
    claim_timeout: int = 60  # seconds
    fee_bps: int = 200
    slash_bps: int = 5_000
    sampling_rate_bps: int = 1_000
    cache_fee_bps: int = 2_500
    grace_period: int = 3_600  # seconds after a deadline when anyone may unwind unsettled work
    max_price_per_shard: int = 1_000_000  # lamports

    def config(self) -> MarketConfig:
        return MarketConfig(self.verifier, self.treasury, self.min_stake, self.unbonding_period, self.claim_timeout,
                            self.fee_bps, self.slash_bps, self.sampling_rate_bps, self.cache_fee_bps, self.grace_period,
                            self.max_price_per_shard)


async def initialize_market(chain: TesseraChain, authority: Keypair, settings: MarketSettings) -> tuple[Pubkey, Sent]:
    require_deterrence(settings)
    await require_rent_exempt_treasury(chain, settings.treasury)
    sent = await chain.send([ix.initialize_market(authority.pubkey(), settings.config())], [authority])
    return market_address(authority.pubkey())[0], sent


async def read_market(chain: TesseraChain, address: Pubkey) -> MarketAccount | None:
    return await chain.fetch(MarketAccount, address)


def require_deterrence(settings: MarketSettings) -> None:
    """The program refuses a market where faking a shard pays (CheatingPays); say by how much, before sending."""
    price, rate = settings.max_price_per_shard, settings.sampling_rate_bps
    if not deters(price, rate, settings.min_stake, settings.slash_bps):
        raise InvalidRequest(
            f"at a price of {price:,} lamports per shard, faking a shard gains {cheating_gain(price, rate, settings.min_stake, settings.slash_bps):,.0f} "
            f"lamports in expectation at a sampling rate of {rate / 100:g}%: raise the sampling rate, the slash or the "
            "minimum stake, or lower the maximum price")


async def require_rent_exempt_treasury(chain: TesseraChain, treasury: Pubkey) -> None:
    """A real validator refuses to credit a fee to an account left below the rent-exempt minimum, which would make
    every settlement fail: the treasury must hold that minimum before the market names it."""
    minimum = (await chain.rpc.get_minimum_balance_for_rent_exemption(0)).value
    balance = await chain.balance(treasury)
    if balance < minimum:
        raise InvalidRequest(f"the treasury {treasury} holds {balance:,} lamports, below the rent-exempt minimum of "
                             f"{minimum:,}: fund it first (tessera airdrop 1 --to {treasury}), or leave the treasury "
                             "to the authority")
