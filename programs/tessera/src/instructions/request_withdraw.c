/* request_withdraw()
 *   0. [signer] owner
 *   1. [writable] channel
 * The delay is the verifier's time to claim the vouchers it holds. */
#include "tessera/events.h"

static uint64_t process_request_withdraw(const Context *ctx) {
  TRY(require_accounts(ctx, REQUEST_WITHDRAW_ACCOUNTS));
  TRY(require_data_len(ctx, REQUEST_WITHDRAW_DATA_LEN));
  const SolAccountInfo *owner = &ctx->accounts[0];
  const SolAccountInfo *channel_account = &ctx->accounts[1];
  Channel *channel;

  TRY(require_signer(owner));
  TRY(LOAD_CHANNEL(ctx, channel_account, true, &channel));
  if (!pubkey_eq(&channel->owner, owner->key)) return ERR_UNAUTHORIZED;
  if (channel->withdrawable_at != 0) return ERR_WITHDRAW_ALREADY_REQUESTED;
  int64_t withdrawable_at;
  TRY(checked_add_i64(clock_unix_timestamp(), channel->withdraw_delay, &withdrawable_at));
  channel->withdrawable_at = withdrawable_at;

  WithdrawRequestedEvent event = {EVENT_WITHDRAW_REQUESTED_DISCRIMINATOR, *channel_account->key, withdrawable_at};
  emit_event(&event, EVENT_WITHDRAW_REQUESTED_LEN);
  return 0;
}
