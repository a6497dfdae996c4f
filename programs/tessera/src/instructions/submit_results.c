/* submit_results(shards, results_root)
 *   0. [writable, signer] owner: the provider's owner; pays the assignment's rent
 *   1. [] market
 *   2. [writable] provider: its collateral is locked
 *   3. [writable] job
 *   4. [writable] assignment: PDA ["assignment", job, provider], created on the first submission
 *   5. [] system program */
#include "tessera/bitmap.h"
#include "tessera/events.h"
#include "tessera/system.h"

static uint64_t process_submit_results(const Context *ctx) {
  TRY(require_accounts(ctx, SUBMIT_RESULTS_ACCOUNTS));
  TRY(require_data_len(ctx, SUBMIT_RESULTS_DATA_LEN));
  const SolAccountInfo *owner = &ctx->accounts[0];
  const SolAccountInfo *market_account = &ctx->accounts[1];
  const SolAccountInfo *provider_account = &ctx->accounts[2];
  const SolAccountInfo *job_account = &ctx->accounts[3];
  const SolAccountInfo *assignment_account = &ctx->accounts[4];
  const SubmitResultsArgs *args = (const SubmitResultsArgs *)ctx->data;
  const Bitmap *shards = AS_BITMAP(args->shards);
  Market *market;
  Provider *provider;
  Job *job;

  TRY(require_writable_signer(owner));
  TRY(LOAD_MARKET(ctx, market_account, false, &market));
  TRY(LOAD_PROVIDER(ctx, provider_account, true, &provider));
  TRY(LOAD_JOB(ctx, job_account, true, &job));
  TRY(require_system_program(&ctx->accounts[5]));
  if (!pubkey_eq(&provider->owner, owner->key)) return ERR_UNAUTHORIZED;
  if (!pubkey_eq(&provider->market, market_account->key) || !pubkey_eq(&job->market, market_account->key))
    return ERR_WRONG_MARKET;
  if (provider->status != PROVIDER_STATUS_ACTIVE) return ERR_PROVIDER_NOT_ACTIVE;
  if (provider->stake < market->min_stake) return ERR_STAKE_BELOW_MINIMUM;
  int64_t now = clock_unix_timestamp();
  if (now > job->deadline) return ERR_DEADLINE_PASSED;
  if (job->unfunded_shards != 0) return ERR_JOB_NOT_FUNDED;
  uint64_t count = bitmap_count(shards);
  if (count == 0) return ERR_EMPTY_SHARDS;
  if (!bitmap_within(shards, job->shard_count)) return ERR_SHARD_OUT_OF_RANGE;
  /* Collateral is the value of the work claimed: a lie costs at least that. */
  uint64_t collateral, locked, free_stake;
  uint32_t pending_shards, pending_assignments, assignment_count;
  TRY(checked_mul(count, job->price_per_shard, &collateral));
  TRY(checked_sub(provider->stake, provider->locked_stake, &free_stake));
  if (collateral > free_stake) return ERR_INSUFFICIENT_FREE_STAKE;
  TRY(checked_add(provider->locked_stake, collateral, &locked));
  TRY(checked_add_u32(job->pending_shards, count, &pending_shards));
  TRY(checked_add_u32(job->pending_assignments, 1, &pending_assignments));

  Assignment *assignment;
  bool first_submission = pubkey_eq(assignment_account->owner, &SYSTEM_PROGRAM_ID);
  if (first_submission) {
    TRY(require_uninitialized(assignment_account));
    TRY(checked_add_u32(job->assignment_count, 1, &assignment_count));
    uint8_t bump;
    SolSignerSeed seeds[4] = {{(const uint8_t *)"assignment", 10},
                              {job_account->key->x, 32},
                              {provider_account->key->x, 32},
                              {&bump, 1}};
    TRY(require_pda(ctx, assignment_account, seeds, 3, &bump));
    uint64_t rent;
    TRY(rent_exempt_minimum(ASSIGNMENT_LEN, &rent));
    NewAccount new_account = {ASSIGNMENT_LEN, rent, {seeds, 4}};
    TRY(create_pda_account(ctx, owner, assignment_account, &new_account));
    assignment = (Assignment *)assignment_account->data;
    assignment->discriminator = ASSIGNMENT_DISCRIMINATOR;
    assignment->job = *job_account->key;
    assignment->provider = *provider_account->key;
    assignment->bump = bump;
  } else {
    TRY(LOAD_ASSIGNMENT(ctx, assignment_account, true, &assignment));
    if (!pubkey_eq(&assignment->job, job_account->key) || !pubkey_eq(&assignment->provider, provider_account->key))
      return ERR_WRONG_JOB;
    if (assignment->status == ASSIGNMENT_STATUS_PENDING) return ERR_ASSIGNMENT_PENDING;
    if (bitmap_overlaps(shards, AS_BITMAP(assignment->submitted_shards))) return ERR_DUPLICATE_SUBMISSION;
    assignment_count = job->assignment_count;
  }

  sol_memcpy_(assignment->results_root, args->results_root, 32);
  bitmap_add(AS_BITMAP(assignment->submitted_shards), shards);
  sol_memcpy_(assignment->pending_shards, args->shards, sizeof(assignment->pending_shards));
  assignment->collateral = collateral;
  assignment->submitted_at = now;
  assignment->status = ASSIGNMENT_STATUS_PENDING;
  provider->locked_stake = locked;
  bitmap_add(AS_BITMAP(job->served_shards), shards);
  job->pending_shards = pending_shards;
  job->pending_assignments = pending_assignments;
  job->assignment_count = assignment_count;

  ResultsSubmittedEvent event = {EVENT_RESULTS_SUBMITTED_DISCRIMINATOR, *job_account->key, *provider_account->key};
  sol_memcpy_(event.results_root, args->results_root, 32);
  sol_memcpy_(event.shards, args->shards, sizeof(event.shards));
  event.collateral = collateral;
  emit_event(&event, EVENT_RESULTS_SUBMITTED_LEN);
  return 0;
}
