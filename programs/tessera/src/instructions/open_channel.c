/* open_channel(authorizer, deposit, withdraw_delay)
 *   0. [writable, signer] owner: pays rent and the deposit
 *   1. [] market
 *   2. [writable] channel: PDA ["channel", market, owner], created here
 *   3. [] system program */
#include "tessera/events.h"
#include "tessera/system.h"

static uint64_t process_open_channel(const Context *ctx) {
  TRY(require_accounts(ctx, OPEN_CHANNEL_ACCOUNTS));
  TRY(require_data_len(ctx, OPEN_CHANNEL_DATA_LEN));
  const SolAccountInfo *owner = &ctx->accounts[0];
  const SolAccountInfo *market_account = &ctx->accounts[1];
  const SolAccountInfo *channel_account = &ctx->accounts[2];
  const OpenChannelArgs *args = (const OpenChannelArgs *)ctx->data;
  Market *market;

  TRY(require_writable_signer(owner));
  TRY(LOAD_MARKET(ctx, market_account, false, &market));
  TRY(require_uninitialized(channel_account));
  TRY(require_system_program(&ctx->accounts[3]));
  if (args->deposit == 0) return ERR_ZERO_AMOUNT;
  if (args->withdraw_delay <= 0 || args->withdraw_delay > MAX_PERIOD) return ERR_INVALID_WITHDRAW_DELAY;
  uint64_t rent, lamports;
  TRY(rent_exempt_minimum(CHANNEL_LEN, &rent));
  TRY(checked_add(rent, args->deposit, &lamports));
  uint8_t bump;
  SolSignerSeed seeds[4] = {{(const uint8_t *)"channel", 7},
                            {market_account->key->x, 32},
                            {owner->key->x, 32},
                            {&bump, 1}};
  TRY(require_pda(ctx, channel_account, seeds, 3, &bump));

  NewAccount new_account = {CHANNEL_LEN, lamports, {seeds, 4}};
  TRY(create_pda_account(ctx, owner, channel_account, &new_account));
  SolClock clock;
  sol_get_clock_sysvar(&clock);
  Channel *channel = (Channel *)channel_account->data;
  channel->discriminator = CHANNEL_DISCRIMINATOR;
  channel->market = *market_account->key;
  channel->owner = *owner->key;
  channel->authorizer = args->authorizer;
  channel->generation = clock.slot;
  channel->withdraw_delay = args->withdraw_delay;
  channel->bump = bump;

  ChannelOpenedEvent event = {EVENT_CHANNEL_OPENED_DISCRIMINATOR, *market_account->key, *channel_account->key,
                              *owner->key, args->authorizer, args->deposit, clock.slot, args->withdraw_delay};
  emit_event(&event, EVENT_CHANNEL_OPENED_LEN);
  return 0;
}
