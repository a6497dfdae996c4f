"""An agent's payment channel as its process holds it: the session key that signs vouchers, and the total it has
authorized so far. Vouchers are cumulative: each names everything authorized since the channel opened."""

from __future__ import annotations

from dataclasses import dataclass

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from marketplace.chain.vouchers import Voucher


@dataclass
class PaymentChannel:
    address: Pubkey
    authorizer: Keypair  # a session key: the wallet that funds the channel can stay cold
    generation: int
    authorized: int = 0  # lamports authorized in all by the vouchers signed so far

    def voucher(self, cost: int, paid: int = 0) -> Voucher:
        """A voucher for a request costing at most `cost`, beyond the larger of what was authorized and what the
        channel has `paid` (both only grow). Counted once `authorize`d, which its sender does as it signs."""
        return Voucher.sign(self.authorizer, self.address, self.generation, max(self.authorized, paid) + cost)

    def authorize(self, voucher: Voucher) -> None:
        self.authorized = max(self.authorized, voucher.amount)
