/* add_stake(amount)
 *   0. [writable, signer] owner
 *   1. [writable] market
 *   2. [writable] provider
 *   3. [] system program */
#include "tessera/events.h"
#include "tessera/system.h"

static uint64_t process_add_stake(const Context *ctx) {
  TRY(require_accounts(ctx, ADD_STAKE_ACCOUNTS));
  TRY(require_data_len(ctx, ADD_STAKE_DATA_LEN));
  const SolAccountInfo *owner = &ctx->accounts[0];
  const SolAccountInfo *market_account = &ctx->accounts[1];
  const SolAccountInfo *provider_account = &ctx->accounts[2];
  uint64_t amount = ((const AddStakeArgs *)ctx->data)->amount;
  Market *market;
  Provider *provider;

  TRY(require_writable_signer(owner));
  TRY(LOAD_MARKET(ctx, market_account, true, &market));
  TRY(LOAD_PROVIDER(ctx, provider_account, true, &provider));
  TRY(require_system_program(&ctx->accounts[3]));
  if (!pubkey_eq(&provider->owner, owner->key)) return ERR_UNAUTHORIZED;
  if (!pubkey_eq(&provider->market, market_account->key)) return ERR_WRONG_MARKET;
  if (amount == 0) return ERR_ZERO_AMOUNT;
  uint64_t stake, total_stake;
  TRY(checked_add(provider->stake, amount, &stake));
  TRY(checked_add(market->total_stake, amount, &total_stake));

  TRY(system_transfer(owner, provider_account, amount));
  provider->stake = stake;
  market->total_stake = total_stake;

  StakeAddedEvent event = {EVENT_STAKE_ADDED_DISCRIMINATOR, *provider_account->key, amount, stake};
  emit_event(&event, EVENT_STAKE_ADDED_LEN);
  return 0;
}
