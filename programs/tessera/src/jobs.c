/* Opening a job, shared by create_job (the client pays from its wallet),
 * claim_channel (a channel pays, as a voucher allows) and open_epoch (channels
 * pay later, each for its shards, through claim_epoch). */
#include "tessera/events.h"
#include "tessera/system.h"

typedef struct {
  const uint8_t *model_digest;
  const uint8_t *input_root;
  const uint8_t *seed_commitment;
  uint64_t job_id;
  uint64_t price_per_shard;
  int64_t deadline;
  uint32_t shard_count;
} JobTerms;

/* Who takes part in opening a job: `payer` funds the rent, and the escrow
 * when `payer_funds_escrow` (else the caller moves it in afterwards);
 * `client` receives refunds and slashes' client share: for an epoch job, its
 * Epoch account, which passes them on to each channel. */
typedef struct {
  const SolAccountInfo *payer;
  bool payer_funds_escrow;
  bool epoch;
  const SolAccountInfo *market_account;
  Market *market;
  const SolAccountInfo *job_account;
  const SolPubkey *client;
} JobParties;

/* The terms in an instruction's arguments: create_job's and claim_channel's name them alike. */
#define JOB_TERMS_OF(args)                                                                        \
  {(args)->model_digest, (args)->input_root, (args)->seed_commitment, (args)->job_id, (args)->price_per_shard, \
   (args)->deadline, (args)->shard_count}

typedef struct {
  uint64_t budget; /* shard executions paid for: shards plus the replicas sampling may add */
  uint64_t escrow; /* price × budget plus the market fee on it */
  uint64_t rent;
} JobCost;

static uint64_t check_job_terms(const Market *market, const JobTerms *terms) {
  if (terms->shard_count == 0 || terms->shard_count > MAX_SHARDS) return ERR_INVALID_SHARD_COUNT;
  if (terms->price_per_shard == 0) return ERR_INVALID_PRICE;
  if (terms->price_per_shard > market->max_price_per_shard) return ERR_PRICE_ABOVE_MAXIMUM;
  if (terms->deadline <= clock_unix_timestamp()) return ERR_INVALID_DEADLINE;
  return 0;
}

/* Escrow for `shards` shards pays every shard once plus the replicas sampling
 * may add, and the market fee on all of it; what is not spent comes back. */
static uint64_t price_shards(uint64_t price, uint64_t shards, uint64_t sampling_bps, uint64_t fee_bps, JobCost *cost) {
  uint64_t work;
  cost->budget = shards + bps_ceil(shards, sampling_bps);
  TRY(checked_mul(price, cost->budget, &work));
  return checked_add(work, bps_ceil(work, fee_bps), &cost->escrow);
}

/* Checks a job's terms and prices them. */
static uint64_t job_cost(const Market *market, const JobTerms *terms, JobCost *cost) {
  TRY(check_job_terms(market, terms));
  TRY(price_shards(terms->price_per_shard, terms->shard_count, market->sampling_rate_bps, market->fee_bps, cost));
  return rent_exempt_minimum(JOB_LEN, &cost->rent);
}

/* Creates the job at its PDA ["job", market, job_id]. */
static uint64_t open_job(const Context *ctx, const JobParties *parties, const JobTerms *terms, const JobCost *cost) {
  const SolAccountInfo *market_account = parties->market_account, *job_account = parties->job_account;
  Market *market = parties->market;
  uint64_t lamports = cost->rent, jobs_created;
  if (parties->payer_funds_escrow) TRY(checked_add(cost->rent, cost->escrow, &lamports));
  TRY(checked_add(market->jobs_created, 1, &jobs_created));
  uint8_t bump;
  SolSignerSeed seeds[4] = {{(const uint8_t *)"job", 3},
                            {market_account->key->x, 32},
                            {(const uint8_t *)&terms->job_id, sizeof(uint64_t)},
                            {&bump, 1}};
  TRY(require_pda(ctx, job_account, seeds, 3, &bump));

  NewAccount new_account = {JOB_LEN, lamports, {seeds, 4}};
  TRY(create_pda_account(ctx, parties->payer, job_account, &new_account));
  Job *job = (Job *)job_account->data;
  job->discriminator = JOB_DISCRIMINATOR;
  job->market = *market_account->key;
  job->client = *parties->client;
  sol_memcpy_(job->model_digest, terms->model_digest, sizeof(job->model_digest));
  sol_memcpy_(job->input_root, terms->input_root, sizeof(job->input_root));
  sol_memcpy_(job->seed_commitment, terms->seed_commitment, sizeof(job->seed_commitment));
  job->job_id = terms->job_id;
  job->price_per_shard = terms->price_per_shard;
  job->escrow = cost->escrow;
  job->deadline = terms->deadline;
  job->created_at = clock_unix_timestamp();
  job->shard_count = terms->shard_count;
  job->execution_budget = (uint32_t)cost->budget;
  job->unfunded_shards = parties->epoch ? terms->shard_count : 0;
  job->is_epoch = parties->epoch;
  job->fee_bps = market->fee_bps;
  job->sampling_rate_bps = market->sampling_rate_bps;
  job->bump = bump;
  market->jobs_created = jobs_created;

  JobCreatedEvent event = {EVENT_JOB_CREATED_DISCRIMINATOR, *market_account->key, *job_account->key,
                           *parties->client, terms->job_id, terms->price_per_shard, cost->escrow, terms->deadline,
                           terms->shard_count};
  emit_event(&event, EVENT_JOB_CREATED_LEN);
  return 0;
}
