/* withdraw()
 *   0. [writable, signer] owner
 *   1. [writable] channel
 * Closing the channel returns everything: what was never claimed and what
 * its closed jobs returned. Its jobs must be closed first, or their refunds
 * would reach an address no one controls. */
#include "tessera/events.h"

static uint64_t process_withdraw(const Context *ctx) {
  TRY(require_accounts(ctx, WITHDRAW_ACCOUNTS));
  TRY(require_data_len(ctx, WITHDRAW_DATA_LEN));
  const SolAccountInfo *owner = &ctx->accounts[0];
  const SolAccountInfo *channel_account = &ctx->accounts[1];
  Channel *channel;

  TRY(require_writable_signer(owner));
  TRY(LOAD_CHANNEL(ctx, channel_account, true, &channel));
  if (!pubkey_eq(&channel->owner, owner->key)) return ERR_UNAUTHORIZED;
  if (channel->withdrawable_at == 0) return ERR_WITHDRAW_NOT_REQUESTED;
  if (clock_unix_timestamp() < channel->withdrawable_at) return ERR_WITHDRAW_DELAY_NOT_ELAPSED;
  if (channel->open_jobs != 0) return ERR_CHANNEL_HAS_OPEN_JOBS;

  ChannelWithdrawnEvent event = {EVENT_CHANNEL_WITHDRAWN_DISCRIMINATOR, *channel_account->key};
  TRY(close_account(channel_account, owner, &event.amount));
  emit_event(&event, EVENT_CHANNEL_WITHDRAWN_LEN);
  return 0;
}
