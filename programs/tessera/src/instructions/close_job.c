/* close_job()
 *   0. [writable] job
 *   1. [writable] client: the job's client; a signer to close before the deadline
 * Anyone may send it: whether a job can close, and who gets its lamports,
 * is fixed by the job's state. Before the deadline only the client may give
 * up on unserved shards (a job nobody can run ends at once, not at its
 * deadline); no committed work is pending then, so no provider loses pay.
 * A channel-funded job's client is its channel, which counts it closed. An
 * epoch job's client is its epoch: then come its rent payer and the channels
 * it records, in order; each channel gets back what it paid and was not
 * spent on its shards, with its share of slashes, and the payer the rent. */
#include "tessera/bitmap.h"
#include "tessera/events.h"

static uint64_t close_epoch_job(const Context *ctx, const SolAccountInfo *job_account,
                                const SolAccountInfo *epoch_account, const Job *job) {
  Epoch *epoch;
  TRY(load_epoch_of(ctx, epoch_account, job_account, job, &epoch));
  uint64_t entries = epoch->entry_count;
  const SolAccountInfo *payer = &ctx->accounts[CLOSE_JOB_ACCOUNTS];
  const SolAccountInfo *channels = payer + 1;
  if (ctx->account_count < CLOSE_JOB_ACCOUNTS + 1 + entries) return ERR_EPOCH_PAYERS_MISSING;
  TRY(require_writable(payer));
  if (!pubkey_eq(payer->key, &epoch->payer)) return ERR_EPOCH_PAYERS_MISSING;
  uint64_t refunds[EPOCH_ENTRIES];
  JobClosedEvent event = {EVENT_JOB_CLOSED_DISCRIMINATOR, *job_account->key, 0};
  for (uint64_t i = 0; i < entries; i++) {
    const EpochEntry *entry = &epoch->entries[i];
    Channel *channel;
    if (!pubkey_eq(channels[i].key, &entry->channel)) return ERR_EPOCH_PAYERS_MISSING;
    TRY(LOAD_CHANNEL(ctx, &channels[i], true, &channel));
    TRY(checked_sub(entry->escrow, entry->spent, &refunds[i]));
    TRY(checked_add(refunds[i], entry->credit, &refunds[i]));
    TRY(checked_add(event.refunded, refunds[i], &event.refunded));
  }

  /* The job's lamports join the epoch's, each channel takes its part, and the rent that is left goes to the payer. */
  uint64_t rent;
  TRY(close_account(job_account, epoch_account, &rent));
  for (uint64_t i = 0; i < entries; i++) {
    Channel *channel = (Channel *)channels[i].data;
    TRY(move_lamports(epoch_account, &channels[i], refunds[i]));
    TRY(checked_sub_u32(channel->open_jobs, 1, &channel->open_jobs));
  }
  TRY(close_account(epoch_account, payer, &rent));
  emit_event(&event, EVENT_JOB_CLOSED_LEN);
  return 0;
}

static uint64_t process_close_job(const Context *ctx) {
  TRY(require_accounts(ctx, CLOSE_JOB_ACCOUNTS));
  TRY(require_data_len(ctx, CLOSE_JOB_DATA_LEN));
  const SolAccountInfo *job_account = &ctx->accounts[0];
  const SolAccountInfo *client = &ctx->accounts[1];
  Job *job;

  TRY(LOAD_JOB(ctx, job_account, true, &job));
  TRY(require_writable(client));
  if (!pubkey_eq(&job->client, client->key)) return ERR_WRONG_JOB;
  if (job->pending_assignments != 0) return ERR_JOB_NOT_FINISHED;
  bool all_paid = bitmap_count(AS_BITMAP(job->paid_shards)) == job->shard_count;
  if (!all_paid && !client->is_signer && clock_unix_timestamp() <= job->deadline) return ERR_JOB_NOT_FINISHED;
  if (job->is_epoch) return close_epoch_job(ctx, job_account, client, job);

  if (is_account_of_type(ctx, client, &CHANNEL_TYPE)) {
    Channel *channel = (Channel *)client->data;
    TRY(checked_sub_u32(channel->open_jobs, 1, &channel->open_jobs));
  }

  JobClosedEvent event = {EVENT_JOB_CLOSED_DISCRIMINATOR, *job_account->key};
  TRY(close_account(job_account, client, &event.refunded));
  emit_event(&event, EVENT_JOB_CLOSED_LEN);
  return 0;
}
