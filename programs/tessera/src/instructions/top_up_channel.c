/* top_up_channel(amount)
 *   0. [writable, signer] owner
 *   1. [writable] channel
 *   2. [] system program */
#include "tessera/events.h"
#include "tessera/system.h"

static uint64_t process_top_up_channel(const Context *ctx) {
  TRY(require_accounts(ctx, TOP_UP_CHANNEL_ACCOUNTS));
  TRY(require_data_len(ctx, TOP_UP_CHANNEL_DATA_LEN));
  const SolAccountInfo *owner = &ctx->accounts[0];
  const SolAccountInfo *channel_account = &ctx->accounts[1];
  uint64_t amount = ((const TopUpChannelArgs *)ctx->data)->amount;
  Channel *channel;

  TRY(require_writable_signer(owner));
  TRY(LOAD_CHANNEL(ctx, channel_account, true, &channel));
  TRY(require_system_program(&ctx->accounts[2]));
  if (!pubkey_eq(&channel->owner, owner->key)) return ERR_UNAUTHORIZED;
  if (amount == 0) return ERR_ZERO_AMOUNT;
  TRY(system_transfer(owner, channel_account, amount));

  ChannelToppedUpEvent event = {EVENT_CHANNEL_TOPPED_UP_DISCRIMINATOR, *channel_account->key, amount};
  emit_event(&event, EVENT_CHANNEL_TOPPED_UP_LEN);
  return 0;
}
