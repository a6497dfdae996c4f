/* update_market(config)
 *   0. [signer] authority: the market's authority
 *   1. [writable] market
 *   2. [] treasury: the config's, holding its rent-exempt minimum */
#include "tessera/events.h"

static uint64_t process_update_market(const Context *ctx) {
  TRY(require_accounts(ctx, UPDATE_MARKET_ACCOUNTS));
  TRY(require_data_len(ctx, UPDATE_MARKET_DATA_LEN));
  const SolAccountInfo *authority = &ctx->accounts[0];
  const UpdateMarketArgs *args = (const UpdateMarketArgs *)ctx->data;
  Market *market;

  TRY(require_signer(authority));
  TRY(LOAD_MARKET(ctx, &ctx->accounts[1], true, &market));
  if (!pubkey_eq(&market->authority, authority->key)) return ERR_UNAUTHORIZED;
  TRY(validate_market_config(&args->config));
  SolRent rent;
  sol_get_rent_sysvar(&rent);
  TRY(require_rent_exempt_treasury(&rent, &ctx->accounts[2], &args->config));

  apply_market_config(market, &args->config);
  const MarketConfig *c = &args->config;
  MarketUpdatedEvent event = {EVENT_MARKET_UPDATED_DISCRIMINATOR, *ctx->accounts[1].key, c->verifier,
                              c->treasury, c->min_stake, c->unbonding_period, c->claim_timeout,
                              c->max_price_per_shard, c->fee_bps, c->slash_bps, c->sampling_rate_bps};
  emit_event(&event, EVENT_MARKET_UPDATED_LEN);
  return 0;
}
