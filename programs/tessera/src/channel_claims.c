/* What claim_channel and claim_epoch share: taking a voucher's worth from a
 * channel. Computed and checked before anything is written. */
#include "tessera/voucher.h"

/* A claim on a channel: the voucher it is made by, the escrow it pays, and
 * what the channel also pays that is not authorized spending (a job's rent,
 * which comes back when the job closes). */
typedef struct {
  uint64_t voucher_amount;
  uint64_t escrow;
  uint64_t fronted;
} ChannelClaim;

/* The channel's totals once `claim` is taken. */
typedef struct {
  uint64_t claimed;
  uint32_t open_jobs;
} ChannelDraw;

/* Checks `claim` against the voucher in the Ed25519 instruction just before this one (read from `sysvar`) and the
 * channel's funds; `draw` is what the channel's totals become. */
static uint64_t draw_from_channel(const SolAccountInfo *channel_account, const Channel *channel,
                                  const SolAccountInfo *sysvar, const ChannelClaim *claim, ChannelDraw *draw) {
  /* Amounts only grow: a voucher authorizes what it names beyond what was claimed, and a stale one nothing. */
  if (claim->voucher_amount < channel->claimed || claim->escrow > claim->voucher_amount - channel->claimed)
    return ERR_VOUCHER_EXCEEDED;
  TRY(require_voucher(sysvar, channel_account->key, &channel->authorizer, channel->generation, claim->voucher_amount));
  uint64_t moved, channel_rent, available;
  TRY(checked_add(claim->escrow, claim->fronted, &moved));
  TRY(rent_exempt_minimum(CHANNEL_LEN, &channel_rent));
  TRY(checked_sub(*channel_account->lamports, channel_rent, &available));
  if (moved > available) return ERR_CHANNEL_UNDERFUNDED;
  TRY(checked_add(channel->claimed, claim->escrow, &draw->claimed));
  return checked_add_u32(channel->open_jobs, 1, &draw->open_jobs);
}
