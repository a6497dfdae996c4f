/* create_job(model_digest, input_root, seed_commitment, job_id, price_per_shard, deadline, shard_count)
 *   0. [writable, signer] client: pays rent and escrow
 *   1. [writable] market: counts the jobs created
 *   2. [writable] job: PDA ["job", market, job_id as u64 LE], created here
 * The client picks the id (the aggregator quotes a random one), so concurrent
 * clients never race for one counter; a taken id is an initialized PDA.
 *   3. [] system program */

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
  JobTerms terms = JOB_TERMS_OF(args);
  JobCost cost;
  TRY(job_cost(market, &terms, &cost));
  JobParties parties = {.payer = client, .payer_funds_escrow = true, .market_account = market_account, .market = market,
                        .job_account = job_account, .client = client->key};
  return open_job(ctx, &parties, &terms, &cost);
}
