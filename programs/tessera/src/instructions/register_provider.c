/* register_provider(endpoint, stake, capacity)
 *   0. [writable, signer] owner: pays rent and the stake
 *   1. [writable] market: its totals grow
 *   2. [writable] provider: PDA ["provider", market, owner], created here
 *   3. [] system program */
#include "tessera/events.h"
#include "tessera/system.h"

static uint64_t process_register_provider(const Context *ctx) {
  TRY(require_accounts(ctx, REGISTER_PROVIDER_ACCOUNTS));
  TRY(require_data_len(ctx, REGISTER_PROVIDER_DATA_LEN));
  const SolAccountInfo *owner = &ctx->accounts[0];
  const SolAccountInfo *market_account = &ctx->accounts[1];
  const SolAccountInfo *provider_account = &ctx->accounts[2];
  const RegisterProviderArgs *args = (const RegisterProviderArgs *)ctx->data;
  Market *market;

  TRY(require_writable_signer(owner));
  TRY(LOAD_MARKET(ctx, market_account, true, &market));
  TRY(require_uninitialized(provider_account));
  TRY(require_system_program(&ctx->accounts[3]));
  TRY(validate_endpoint(args->endpoint));
  if (args->capacity == 0) return ERR_INVALID_CAPACITY;
  if (args->stake < market->min_stake) return ERR_STAKE_BELOW_MINIMUM;
  uint64_t total_stake, provider_count, rent, lamports;
  TRY(checked_add(market->total_stake, args->stake, &total_stake));
  TRY(checked_add(market->provider_count, 1, &provider_count));
  TRY(rent_exempt_minimum(PROVIDER_LEN, &rent));
  TRY(checked_add(rent, args->stake, &lamports));
  uint8_t bump;
  SolSignerSeed seeds[4] = {{(const uint8_t *)"provider", 8},
                            {market_account->key->x, 32},
                            {owner->key->x, 32},
                            {&bump, 1}};
  TRY(require_pda(ctx, provider_account, seeds, 3, &bump));

  NewAccount new_account = {PROVIDER_LEN, lamports, {seeds, 4}};
  TRY(create_pda_account(ctx, owner, provider_account, &new_account));
  Provider *provider = (Provider *)provider_account->data;
  provider->discriminator = PROVIDER_DISCRIMINATOR;
  provider->market = *market_account->key;
  provider->owner = *owner->key;
  provider->stake = args->stake;
  provider->registered_at = clock_unix_timestamp();
  provider->capacity = args->capacity;
  provider->status = PROVIDER_STATUS_ACTIVE;
  provider->bump = bump;
  sol_memcpy_(provider->endpoint, args->endpoint, sizeof(provider->endpoint));
  market->total_stake = total_stake;
  market->provider_count = provider_count;

  ProviderRegisteredEvent event = {EVENT_PROVIDER_REGISTERED_DISCRIMINATOR, *market_account->key,
                                   *provider_account->key, *owner->key, args->stake, args->capacity};
  emit_event(&event, EVENT_PROVIDER_REGISTERED_LEN);
  return 0;
}
