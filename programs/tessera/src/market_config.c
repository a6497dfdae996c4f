/* Checks and applies a MarketConfig, shared by initialize and update. */
#include "tessera/checks.h"

#define MAX_PRICE_PER_SHARD (1000ULL * 1000 * 1000 * 1000) /* lamports: 1,000 SOL, far below u64 / BPS_DENOMINATOR */

/* PoSP's condition p·(R + S) > C at the market's highest price R, with C ≤ R (an honest run cannot cost more than it
 * pays). A caught fake loses at least S = max(its collateral R, slash_bps of the minimum stake), since stake stays
 * slashable until withdrawn. p·(R + S) / R only falls as R grows, so the highest price is the worst case. */
static bool cheating_pays(const MarketConfig *config) {
  uint64_t price = config->max_price_per_shard;
  uint64_t stake_slash = bps_floor(config->min_stake, config->slash_bps);
  uint64_t at_risk, expected;
  if (checked_add(price, stake_slash > price ? stake_slash : price, &at_risk)) return false; /* past u64: deters */
  if (checked_mul(at_risk, config->sampling_rate_bps, &expected)) return false;
  return expected <= price * BPS_DENOMINATOR; /* no overflow: price <= MAX_PRICE_PER_SHARD */
}

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
  if (config->max_price_per_shard == 0 || config->max_price_per_shard > MAX_PRICE_PER_SHARD) return ERR_INVALID_CONFIG;
  return cheating_pays(config) ? ERR_CHEATING_PAYS : 0;
}

/* Fees and slashes are credited to the treasury by moving lamports; a real validator refuses a credit that leaves an
 * account below its rent-exempt minimum, so a treasury that cannot take them would fail every settlement. */
static uint64_t require_rent_exempt_treasury(const SolRent *rent, const SolAccountInfo *treasury,
                                             const MarketConfig *config) {
  if (!pubkey_eq(treasury->key, &config->treasury)) return ERR_WRONG_MARKET;
  uint64_t minimum;
  TRY(rent_minimum(rent, treasury->data_len, &minimum));
  return *treasury->lamports >= minimum ? 0 : ERR_TREASURY_NOT_RENT_EXEMPT;
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
  market->max_price_per_shard = config->max_price_per_shard;
}
