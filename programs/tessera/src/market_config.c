/* Checks and applies a MarketConfig, shared by initialize and update. */
#include "tessera/checks.h"

#define MAX_PERIOD (366LL * 24 * 3600) /* seconds: a year bounds every period a market sets */

static uint64_t validate_market_config(const MarketConfig *config) {
  if (config->fee_bps > BPS_DENOMINATOR || config->slash_bps > BPS_DENOMINATOR ||
      config->sampling_rate_bps > BPS_DENOMINATOR || config->cache_fee_bps > BPS_DENOMINATOR)
    return ERR_INVALID_BPS;
  /* A zero minimum stake would let keys with nothing at risk take work; periods are bounded so that no
   * deadline or unbonding time computed from them can overflow, and a grace period of zero would let
   * anyone unwind work the verifier is about to settle. */
  if (config->min_stake == 0 || config->unbonding_period < 0 || config->unbonding_period > MAX_PERIOD ||
      config->claim_timeout <= 0 || config->claim_timeout > MAX_PERIOD || config->grace_period <= 0 ||
      config->grace_period > MAX_PERIOD)
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
  market->grace_period = config->grace_period;
}
