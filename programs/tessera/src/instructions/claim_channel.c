/* claim_channel(model_digest, input_root, seed_commitment, job_id, price_per_shard, deadline, voucher_amount,
 *               shard_count)
 *   0. [writable, signer] verifier: the market's verifier; fronts the job's rent, repaid from the channel
 *   1. [writable] market: counts the jobs created
 *   2. [writable] channel: pays, as far as its voucher allows
 *   3. [writable] job: PDA ["job", market, job_id as u64 LE], created here
 *   4. [] instructions sysvar: holds the voucher's Ed25519 instruction, just before this one
 *   5. [] system program
 * The channel is the job's client: unspent escrow, refunds and slashes'
 * client share return to it, never to the verifier. Its rent is not
 * authorized spending: it comes back when the job closes. */
static uint64_t process_claim_channel(const Context *ctx) {
  TRY(require_accounts(ctx, CLAIM_CHANNEL_ACCOUNTS));
  TRY(require_data_len(ctx, CLAIM_CHANNEL_DATA_LEN));
  const SolAccountInfo *verifier = &ctx->accounts[0];
  const SolAccountInfo *market_account = &ctx->accounts[1];
  const SolAccountInfo *channel_account = &ctx->accounts[2];
  const SolAccountInfo *job_account = &ctx->accounts[3];
  const ClaimChannelArgs *args = (const ClaimChannelArgs *)ctx->data;
  Market *market;
  Channel *channel;

  TRY(require_writable_signer(verifier));
  TRY(LOAD_MARKET(ctx, market_account, true, &market));
  if (!pubkey_eq(&market->verifier, verifier->key)) return ERR_UNAUTHORIZED;
  TRY(LOAD_CHANNEL(ctx, channel_account, true, &channel));
  if (!pubkey_eq(&channel->market, market_account->key)) return ERR_WRONG_MARKET;
  TRY(require_uninitialized(job_account));
  TRY(require_system_program(&ctx->accounts[5]));
  JobTerms terms = JOB_TERMS_OF(args);
  JobCost cost;
  TRY(job_cost(market, &terms, &cost));

  ChannelClaim claim = {args->voucher_amount, cost.escrow, cost.rent};
  ChannelDraw draw;
  TRY(draw_from_channel(channel_account, channel, &ctx->accounts[4], &claim, &draw));

  /* The verifier fronts the rent and is repaid after the creation: a cross-program call only sees the
   * balances of the accounts it is given, so the channel's debit must not precede it. */
  JobParties parties = {.payer = verifier, .market_account = market_account, .market = market, .job_account = job_account,
                        .client = channel_account->key};
  TRY(open_job(ctx, &parties, &terms, &cost));
  TRY(move_lamports(channel_account, job_account, cost.escrow));
  TRY(move_lamports(channel_account, verifier, cost.rent));
  channel->claimed = draw.claimed;
  channel->open_jobs = draw.open_jobs;

  ChannelClaimedEvent event = {EVENT_CHANNEL_CLAIMED_DISCRIMINATOR, *channel_account->key, *job_account->key,
                               args->voucher_amount, cost.escrow, draw.claimed};
  emit_event(&event, EVENT_CHANNEL_CLAIMED_LEN);
  return 0;
}
