/* close_job()
 *   0. [writable] job
 *   1. [writable] client: the job's client; a signer to close before the deadline
 * Anyone may send it: whether a job can close, and who gets its lamports,
 * is fixed by the job's state. Before the deadline only the client may give
 * up on unserved shards (a job nobody can run ends at once, not at its
 * deadline); no committed work is pending then, so no provider loses pay.
 * A channel-funded job's client is its channel, which counts it closed. */
#include "tessera/bitmap.h"
#include "tessera/events.h"

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

  if (is_account_of_type(ctx, client, &CHANNEL_TYPE)) {
    Channel *channel = (Channel *)client->data;
    TRY(checked_sub_u32(channel->open_jobs, 1, &channel->open_jobs));
  }

  JobClosedEvent event = {EVENT_JOB_CLOSED_DISCRIMINATOR, *job_account->key};
  TRY(close_account(job_account, client, &event.refunded));
  emit_event(&event, EVENT_JOB_CLOSED_LEN);
  return 0;
}
