/* initialize_market(config)
 *   0. [writable, signer] authority: pays rent and governs the market
 *   1. [writable] market: PDA ["market", authority], created here
 *   2. [] treasury: the config's, holding its rent-exempt minimum (checked after the authority paid the rent)
 *   3. [] system program */
#include "tessera/events.h"
#include "tessera/system.h"

static uint64_t process_initialize_market(const Context *ctx) {
  TRY(require_accounts(ctx, INITIALIZE_MARKET_ACCOUNTS));
  TRY(require_data_len(ctx, INITIALIZE_MARKET_DATA_LEN));
  const SolAccountInfo *authority = &ctx->accounts[0];
  const SolAccountInfo *market_account = &ctx->accounts[1];
  const InitializeMarketArgs *args = (const InitializeMarketArgs *)ctx->data;

  TRY(require_writable_signer(authority));
  TRY(require_uninitialized(market_account));
  TRY(require_system_program(&ctx->accounts[3]));
  TRY(validate_market_config(&args->config));
  uint8_t bump;
  SolSignerSeed seeds[3] = {{(const uint8_t *)"market", 6}, {authority->key->x, 32}, {&bump, 1}};
  TRY(require_pda(ctx, market_account, seeds, 2, &bump));
  SolRent rent_sysvar;
  uint64_t rent;
  sol_get_rent_sysvar(&rent_sysvar);
  TRY(rent_minimum(&rent_sysvar, MARKET_LEN, &rent));

  NewAccount new_account = {MARKET_LEN, rent, {seeds, 3}};
  TRY(create_pda_account(ctx, authority, market_account, &new_account));
  Market *market = (Market *)market_account->data;
  market->discriminator = MARKET_DISCRIMINATOR;
  market->authority = *authority->key;
  apply_market_config(market, &args->config);
  market->bump = bump;
  TRY(require_rent_exempt_treasury(&rent_sysvar, &ctx->accounts[2], &args->config));

  MarketInitializedEvent event = {EVENT_MARKET_INITIALIZED_DISCRIMINATOR, *market_account->key,
                                  *authority->key, args->config.verifier, args->config.treasury};
  emit_event(&event, EVENT_MARKET_INITIALIZED_LEN);
  return 0;
}
