/* claim_epoch(voucher_amount, shard_count)
 *   0. [signer] verifier: the market's verifier
 *   1. [] market
 *   2. [writable] channel: pays, as far as its voucher allows
 *   3. [writable] job: an epoch job with shards still unfunded
 *   4. [writable] epoch: the job's
 *   5. [] instructions sysvar: holds the voucher's Ed25519 instruction, just before this one
 * The channel pays for the job's next `shard_count` shards: their escrow, by
 * create_job's formula, moves from the channel into the job. The epoch
 * records the channel with its shards, so what verdicts do not spend on them
 * goes back to it when the job closes. */
static uint64_t process_claim_epoch(const Context *ctx) {
  TRY(require_accounts(ctx, CLAIM_EPOCH_ACCOUNTS));
  TRY(require_data_len(ctx, CLAIM_EPOCH_DATA_LEN));
  const SolAccountInfo *verifier = &ctx->accounts[0];
  const SolAccountInfo *market_account = &ctx->accounts[1];
  const SolAccountInfo *channel_account = &ctx->accounts[2];
  const SolAccountInfo *job_account = &ctx->accounts[3];
  const SolAccountInfo *epoch_account = &ctx->accounts[4];
  const ClaimEpochArgs *args = (const ClaimEpochArgs *)ctx->data;
  Market *market;
  Channel *channel;
  Job *job;
  Epoch *epoch;

  TRY(require_signer(verifier));
  TRY(LOAD_MARKET(ctx, market_account, false, &market));
  if (!pubkey_eq(&market->verifier, verifier->key)) return ERR_UNAUTHORIZED;
  TRY(LOAD_CHANNEL(ctx, channel_account, true, &channel));
  TRY(LOAD_JOB(ctx, job_account, true, &job));
  TRY(load_epoch_of(ctx, epoch_account, job_account, job, &epoch));
  if (!pubkey_eq(&channel->market, market_account->key) || !pubkey_eq(&job->market, market_account->key))
    return ERR_WRONG_MARKET;
  if (clock_unix_timestamp() > job->deadline) return ERR_DEADLINE_PASSED;
  if (args->shard_count == 0 || args->shard_count > job->unfunded_shards) return ERR_EPOCH_SHARDS_EXCEEDED;
  if (epoch->entry_count >= EPOCH_ENTRIES) return ERR_EPOCH_FULL;
  JobCost cost;
  TRY(price_shards(job->price_per_shard, args->shard_count, job->sampling_rate_bps, job->fee_bps, &cost));

  ChannelClaim claim = {args->voucher_amount, cost.escrow, 0};
  ChannelDraw draw;
  TRY(draw_from_channel(channel_account, channel, &ctx->accounts[5], &claim, &draw));
  uint64_t escrow;
  uint32_t budget, funded;
  TRY(checked_add(job->escrow, cost.escrow, &escrow));
  TRY(checked_add_u32(job->execution_budget, cost.budget, &budget));
  TRY(checked_add_u32(epoch->funded_shards, args->shard_count, &funded));

  TRY(move_lamports(channel_account, job_account, cost.escrow));
  EpochEntry *entry = &epoch->entries[epoch->entry_count];
  entry->channel = *channel_account->key;
  entry->escrow = cost.escrow;
  entry->first_shard = epoch->funded_shards;
  entry->shard_count = args->shard_count;
  entry->execution_budget = (uint32_t)cost.budget; /* at most twice MAX_SHARDS */
  epoch->entry_count += 1;
  epoch->funded_shards = funded;
  job->escrow = escrow;
  job->execution_budget = budget;
  job->unfunded_shards -= args->shard_count; /* at most unfunded_shards: checked above */
  channel->claimed = draw.claimed;
  channel->open_jobs = draw.open_jobs;

  ChannelClaimedEvent event = {EVENT_CHANNEL_CLAIMED_DISCRIMINATOR, *channel_account->key, *job_account->key,
                               args->voucher_amount, cost.escrow, draw.claimed};
  emit_event(&event, EVENT_CHANNEL_CLAIMED_LEN);
  return 0;
}
