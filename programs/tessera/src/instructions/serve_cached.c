/* serve_cached(shards)
 *   0. [signer] verifier: the market's verifier
 *   1. [] market
 *   2. [writable] job
 *   3. [writable] treasury: the market's treasury */
#include "tessera/bitmap.h"
#include "tessera/events.h"

static uint64_t process_serve_cached(const Context *ctx) {
  TRY(require_accounts(ctx, SERVE_CACHED_ACCOUNTS));
  TRY(require_data_len(ctx, SERVE_CACHED_DATA_LEN));
  const SolAccountInfo *verifier = &ctx->accounts[0];
  const SolAccountInfo *job_account = &ctx->accounts[2];
  const SolAccountInfo *treasury = &ctx->accounts[3];
  const Bitmap *shards = AS_BITMAP(((const ServeCachedArgs *)ctx->data)->shards);
  Market *market;
  Job *job;

  TRY(require_signer(verifier));
  TRY(LOAD_MARKET(ctx, &ctx->accounts[1], false, &market));
  TRY(LOAD_JOB(ctx, job_account, true, &job));
  TRY(require_writable(treasury));
  if (!pubkey_eq(&market->verifier, verifier->key)) return ERR_UNAUTHORIZED;
  if (!pubkey_eq(&job->market, ctx->accounts[1].key) || !pubkey_eq(&market->treasury, treasury->key))
    return ERR_WRONG_MARKET;
  /* After the deadline the client may refund all but what pending submissions can claim: a cache fee
   * then would be paid out of their reserve. */
  if (clock_unix_timestamp() > job->deadline) return ERR_DEADLINE_PASSED;
  if (job->is_epoch) return ERR_CACHED_IN_EPOCH;
  uint64_t count = bitmap_count(shards);
  if (count == 0) return ERR_EMPTY_SHARDS;
  if (!bitmap_within(shards, job->shard_count)) return ERR_SHARD_OUT_OF_RANGE;
  /* A shard a provider submitted is paid through settle, never also here. */
  if (bitmap_overlaps(shards, AS_BITMAP(job->served_shards)) || bitmap_overlaps(shards, AS_BITMAP(job->paid_shards)))
    return ERR_DUPLICATE_SUBMISSION;
  uint64_t executions, price, escrow;
  TRY(checked_add(job->executions_paid, count, &executions));
  if (executions > job->execution_budget) return ERR_BUDGET_EXCEEDED;
  TRY(checked_mul(count, bps_floor(job->price_per_shard, market->cache_fee_bps), &price));
  TRY(checked_sub(job->escrow, price, &escrow));

  TRY(move_lamports(job_account, treasury, price));
  job->escrow = escrow;
  job->executions_paid = (uint32_t)executions; /* at most execution_budget, a u32 */
  bitmap_add(AS_BITMAP(job->served_shards), shards);
  bitmap_add(AS_BITMAP(job->paid_shards), shards);

  CachedServedEvent event = {EVENT_CACHED_SERVED_DISCRIMINATOR, *job_account->key};
  sol_memcpy_(event.shards, shards, sizeof(event.shards));
  event.paid = price;
  emit_event(&event, EVENT_CACHED_SERVED_LEN);
  return 0;
}
