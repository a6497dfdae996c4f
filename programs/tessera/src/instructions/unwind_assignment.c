/* unwind_assignment()
 *   0. [] market: its grace period
 *   1. [writable] job
 *   2. [writable] assignment: pending, of this job
 *   3. [writable] provider: its collateral is released
 * Anyone may send it once the job's deadline plus the market's grace period
 * has passed: a verifier that crashed, lost its key or turned hostile can
 * lock neither collateral nor escrow. The work is neither paid nor slashed. */
#include "tessera/bitmap.h"
#include "tessera/events.h"

static uint64_t process_unwind_assignment(const Context *ctx) {
  TRY(require_accounts(ctx, UNWIND_ASSIGNMENT_ACCOUNTS));
  TRY(require_data_len(ctx, UNWIND_ASSIGNMENT_DATA_LEN));
  const SolAccountInfo *market_account = &ctx->accounts[0];
  const SolAccountInfo *job_account = &ctx->accounts[1];
  const SolAccountInfo *assignment_account = &ctx->accounts[2];
  const SolAccountInfo *provider_account = &ctx->accounts[3];
  Market *market;
  Job *job;
  Assignment *assignment;
  Provider *provider;

  TRY(LOAD_MARKET(ctx, market_account, false, &market));
  TRY(LOAD_JOB(ctx, job_account, true, &job));
  TRY(LOAD_ASSIGNMENT(ctx, assignment_account, true, &assignment));
  TRY(LOAD_PROVIDER(ctx, provider_account, true, &provider));
  if (!pubkey_eq(&job->market, market_account->key)) return ERR_WRONG_MARKET;
  if (!pubkey_eq(&assignment->job, job_account->key) || !pubkey_eq(&assignment->provider, provider_account->key))
    return ERR_WRONG_JOB;
  if (assignment->status != ASSIGNMENT_STATUS_PENDING) return ERR_ASSIGNMENT_NOT_PENDING;
  int64_t unwind_at;
  TRY(checked_add_i64(job->deadline, market->grace_period, &unwind_at));
  if (clock_unix_timestamp() <= unwind_at) return ERR_GRACE_NOT_ELAPSED;

  uint64_t locked;
  uint32_t pending_shards, pending_assignments;
  TRY(checked_sub(provider->locked_stake, assignment->collateral, &locked));
  TRY(checked_sub_u32(job->pending_shards, bitmap_count(AS_BITMAP(assignment->pending_shards)), &pending_shards));
  TRY(checked_sub_u32(job->pending_assignments, 1, &pending_assignments));

  AssignmentUnwoundEvent event = {EVENT_ASSIGNMENT_UNWOUND_DISCRIMINATOR, *job_account->key, *provider_account->key,
                                  assignment->collateral};
  provider->locked_stake = locked;
  job->pending_shards = pending_shards;
  job->pending_assignments = pending_assignments;
  sol_memset_(assignment->pending_shards, 0, sizeof(assignment->pending_shards));
  assignment->collateral = 0;
  assignment->status = ASSIGNMENT_STATUS_SETTLED;
  assignment->last_verdict = VERDICT_REJECT;
  emit_event(&event, EVENT_ASSIGNMENT_UNWOUND_LEN);
  return 0;
}
