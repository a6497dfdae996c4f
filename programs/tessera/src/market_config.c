/* Checks and applies a MarketConfig, shared by initialize and update. */
#include "tessera/checks.h"

static uint64_t validate_market_config(const MarketConfig *config) {
  if (config->fee_bps > BPS_DENOMINATOR || config->slash_bps > BPS_DENOMINATOR ||
      config->sampling_rate_bps > BPS_DENOMINATOR || config->cache_fee_bps > BPS_DENOMINATOR)
    return ERR_INVALID_BPS;
  /* A zero minimum stake would let keys with nothing at risk take work. */
  if (config->min_stake == 0 || config->unbonding_period < 0 || config->claim_timeout <= 0)
    return ERR_INVALID_CONFIG;
  return 0;
}

static void apply_market_config(Market *market, const MarketConfig *config) {
  market->verifier = config->verifier;
  market->treasury = config->treasury;
  market->min_stake = config->min_stake;
  market->unbonding_period = config->unbonding_period;
  market->claim_timeout = config->claim_timeout;
  market->fee_bps = config->fee_bps;
  market->slash_bps = config->slash_bps;
  market->sampling_rate_bps = config->sampling_rate_bps;
  market->cache_fee_bps = config->cache_fee_bps;
}
