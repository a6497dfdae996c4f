/* open_epoch(model_digest, input_root, seed_commitment, job_id, price_per_shard, deadline, shard_count)
 *   0. [writable, signer] verifier: the market's verifier; fronts the rent of the job and the epoch
 *   1. [writable] market: counts the jobs created
 *   2. [writable] job: PDA ["job", market, job_id as u64 LE], created here
 *   3. [writable] epoch: PDA ["epoch", job], created here
 *   4. [] system program
 * An epoch job carries the requests of many payment channels, served before
 * they are paid: it opens empty, each channel's claim_epoch funds its shards,
 * and providers commit only once all are funded. Its client is the epoch,
 * which records who paid for what, so unspent escrow and slashes' client
 * share go back to each channel, never to the verifier. */
#include "tessera/system.h"

static uint64_t process_open_epoch(const Context *ctx) {
  TRY(require_accounts(ctx, OPEN_EPOCH_ACCOUNTS));
  TRY(require_data_len(ctx, OPEN_EPOCH_DATA_LEN));
  const SolAccountInfo *verifier = &ctx->accounts[0];
  const SolAccountInfo *market_account = &ctx->accounts[1];
  const SolAccountInfo *job_account = &ctx->accounts[2];
  const SolAccountInfo *epoch_account = &ctx->accounts[3];
  const OpenEpochArgs *args = (const OpenEpochArgs *)ctx->data;
  Market *market;

  TRY(require_writable_signer(verifier));
  TRY(LOAD_MARKET(ctx, market_account, true, &market));
  if (!pubkey_eq(&market->verifier, verifier->key)) return ERR_UNAUTHORIZED;
  TRY(require_uninitialized(job_account));
  TRY(require_uninitialized(epoch_account));
  TRY(require_system_program(&ctx->accounts[4]));
  JobTerms terms = JOB_TERMS_OF(args);
  JobCost cost = {0, 0, 0};
  TRY(check_job_terms(market, &terms));
  TRY(rent_exempt_minimum(JOB_LEN, &cost.rent));
  uint64_t epoch_rent;
  TRY(rent_exempt_minimum(EPOCH_LEN, &epoch_rent));
  uint8_t bump;
  SolSignerSeed seeds[3] = {{(const uint8_t *)"epoch", 5}, {job_account->key->x, 32}, {&bump, 1}};
  TRY(require_pda(ctx, epoch_account, seeds, 2, &bump));

  JobParties parties = {.payer = verifier, .epoch = true, .market_account = market_account, .market = market,
                        .job_account = job_account, .client = epoch_account->key};
  TRY(open_job(ctx, &parties, &terms, &cost));
  NewAccount new_account = {EPOCH_LEN, epoch_rent, {seeds, 3}};
  TRY(create_pda_account(ctx, verifier, epoch_account, &new_account));
  Epoch *epoch = (Epoch *)epoch_account->data;
  epoch->discriminator = EPOCH_DISCRIMINATOR;
  epoch->market = *market_account->key;
  epoch->job = *job_account->key;
  epoch->payer = *verifier->key;
  epoch->bump = bump;
  return 0;
}
