/* request_unstake(amount)
 *   0. [signer] owner
 *   1. [writable] market
 *   2. [writable] provider */
#include "tessera/events.h"

static uint64_t process_request_unstake(const Context *ctx) {
  TRY(require_accounts(ctx, REQUEST_UNSTAKE_ACCOUNTS));
  TRY(require_data_len(ctx, REQUEST_UNSTAKE_DATA_LEN));
  const SolAccountInfo *owner = &ctx->accounts[0];
  const SolAccountInfo *market_account = &ctx->accounts[1];
  const SolAccountInfo *provider_account = &ctx->accounts[2];
  uint64_t amount = ((const RequestUnstakeArgs *)ctx->data)->amount;
  Market *market;
  Provider *provider;

  TRY(require_signer(owner));
  TRY(LOAD_MARKET(ctx, market_account, true, &market));
  TRY(LOAD_PROVIDER(ctx, provider_account, true, &provider));
  if (!pubkey_eq(&provider->owner, owner->key)) return ERR_UNAUTHORIZED;
  if (!pubkey_eq(&provider->market, market_account->key)) return ERR_WRONG_MARKET;
  if (amount == 0) return ERR_ZERO_AMOUNT;
  uint64_t free_stake, stake, unbonding, total_stake;
  int64_t unbond_at;
  TRY(checked_sub(provider->stake, provider->locked_stake, &free_stake));
  if (amount > free_stake) return ERR_INSUFFICIENT_FREE_STAKE;
  TRY(checked_sub(provider->stake, amount, &stake));
  TRY(checked_add(provider->unbonding_stake, amount, &unbonding));
  TRY(checked_sub(market->total_stake, amount, &total_stake));
  TRY(checked_add_i64(clock_unix_timestamp(), market->unbonding_period, &unbond_at));

  provider->stake = stake;
  provider->unbonding_stake = unbonding;
  provider->unbond_at = unbond_at;
  market->total_stake = total_stake;

  UnstakeRequestedEvent event = {EVENT_UNSTAKE_REQUESTED_DISCRIMINATOR, *provider_account->key,
                                 amount, unbonding, unbond_at};
  emit_event(&event, EVENT_UNSTAKE_REQUESTED_LEN);
  return 0;
}
