/* create_job(model_digest, input_root, seed_commitment, job_id, price_per_shard, deadline, shard_count)
 *   0. [writable, signer] client: pays rent and escrow
 *   1. [writable] market: counts the jobs created
 *   2. [writable] job: PDA ["job", market, job_id as u64 LE], created here
 * The client picks the id (the aggregator quotes a random one), so concurrent
 * clients never race for one counter; a taken id is an initialized PDA.
 *   3. [] system program */
#include "tessera/bitmap.h"
#include "tessera/events.h"
#include "tessera/system.h"

static uint64_t process_create_job(const Context *ctx) {
  TRY(require_accounts(ctx, CREATE_JOB_ACCOUNTS));
  TRY(require_data_len(ctx, CREATE_JOB_DATA_LEN));
  const SolAccountInfo *client = &ctx->accounts[0];
  const SolAccountInfo *market_account = &ctx->accounts[1];
  const SolAccountInfo *job_account = &ctx->accounts[2];
  const CreateJobArgs *args = (const CreateJobArgs *)ctx->data;
  Market *market;

  TRY(require_writable_signer(client));
  TRY(LOAD_MARKET(ctx, market_account, true, &market));
  TRY(require_uninitialized(job_account));
  TRY(require_system_program(&ctx->accounts[3]));
  if (args->shard_count == 0 || args->shard_count > MAX_SHARDS) return ERR_INVALID_SHARD_COUNT;
  if (args->price_per_shard == 0) return ERR_INVALID_PRICE;
  if (args->price_per_shard > market->max_price_per_shard) return ERR_PRICE_ABOVE_MAXIMUM;
  int64_t now = clock_unix_timestamp();
  if (args->deadline <= now) return ERR_INVALID_DEADLINE;

  /* Escrow pays every shard once plus the replicas sampling may add, and the
   * market fee on all of it; what is not spent comes back to the client. */
  uint64_t budget = args->shard_count + bps_ceil(args->shard_count, market->sampling_rate_bps);
  uint64_t work, escrow, rent, lamports, jobs_created;
  TRY(checked_mul(args->price_per_shard, budget, &work));
  TRY(checked_add(work, bps_ceil(work, market->fee_bps), &escrow));
  TRY(rent_exempt_minimum(JOB_LEN, &rent));
  TRY(checked_add(rent, escrow, &lamports));
  TRY(checked_add(market->jobs_created, 1, &jobs_created));
  uint8_t bump;
  SolSignerSeed seeds[4] = {{(const uint8_t *)"job", 3},
                            {market_account->key->x, 32},
                            {(const uint8_t *)&args->job_id, sizeof(uint64_t)},
                            {&bump, 1}};
  TRY(require_pda(ctx, job_account, seeds, 3, &bump));

  NewAccount new_account = {JOB_LEN, lamports, {seeds, 4}};
  TRY(create_pda_account(ctx, client, job_account, &new_account));
  Job *job = (Job *)job_account->data;
  job->discriminator = JOB_DISCRIMINATOR;
  job->market = *market_account->key;
  job->client = *client->key;
  sol_memcpy_(job->model_digest, args->model_digest, sizeof(job->model_digest));
  sol_memcpy_(job->input_root, args->input_root, sizeof(job->input_root));
  sol_memcpy_(job->seed_commitment, args->seed_commitment, sizeof(job->seed_commitment));
  job->job_id = args->job_id;
  job->price_per_shard = args->price_per_shard;
  job->escrow = escrow;
  job->deadline = args->deadline;
  job->created_at = now;
  job->shard_count = args->shard_count;
  job->execution_budget = (uint32_t)budget;
  job->fee_bps = market->fee_bps;
  job->sampling_rate_bps = market->sampling_rate_bps;
  job->bump = bump;
  market->jobs_created = jobs_created;

  JobCreatedEvent event = {EVENT_JOB_CREATED_DISCRIMINATOR, *market_account->key, *job_account->key,
                           *client->key, args->job_id, args->price_per_shard, escrow, args->deadline,
                           args->shard_count};
  emit_event(&event, EVENT_JOB_CREATED_LEN);
  return 0;
}
