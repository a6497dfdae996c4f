/* withdraw_stake()
 *   0. [writable, signer] owner
 *   1. [writable] provider */
#include "tessera/events.h"

static uint64_t process_withdraw_stake(const Context *ctx) {
  TRY(require_accounts(ctx, WITHDRAW_STAKE_ACCOUNTS));
  TRY(require_data_len(ctx, WITHDRAW_STAKE_DATA_LEN));
  const SolAccountInfo *owner = &ctx->accounts[0];
  const SolAccountInfo *provider_account = &ctx->accounts[1];
  Provider *provider;

  TRY(require_writable_signer(owner));
  TRY(LOAD_PROVIDER(ctx, provider_account, true, &provider));
  if (!pubkey_eq(&provider->owner, owner->key)) return ERR_UNAUTHORIZED;
  uint64_t amount = provider->unbonding_stake;
  if (amount == 0) return ERR_NOTHING_TO_WITHDRAW;
  if (clock_unix_timestamp() < provider->unbond_at) return ERR_UNBONDING_NOT_ELAPSED;
  /* The account keeps rent + stake: check it, so a bug elsewhere can never
   * let a withdrawal eat into the rent or another party's collateral. */
  uint64_t rent, kept, remaining, owner_lamports;
  TRY(rent_exempt_minimum(PROVIDER_LEN, &rent));
  TRY(checked_add(rent, provider->stake, &kept));
  TRY(checked_sub(*provider_account->lamports, amount, &remaining));
  if (remaining < kept) return ERR_ARITHMETIC_OVERFLOW;
  TRY(checked_add(*owner->lamports, amount, &owner_lamports));

  *provider_account->lamports = remaining;
  *owner->lamports = owner_lamports;
  provider->unbonding_stake = 0;

  StakeWithdrawnEvent event = {EVENT_STAKE_WITHDRAWN_DISCRIMINATOR, *provider_account->key, amount};
  emit_event(&event, EVENT_STAKE_WITHDRAWN_LEN);
  return 0;
}
