/* cancel_job()
 *   0. [writable, signer] client
 *   1. [writable] job */
#include "tessera/events.h"

static uint64_t process_cancel_job(const Context *ctx) {
  const SolAccountInfo *client = &ctx->accounts[0];
  const SolAccountInfo *job_account = &ctx->accounts[1];
  Job *job;

  TRY(load_clients_job(ctx, CANCEL_JOB_ACCOUNTS, CANCEL_JOB_DATA_LEN, &job));
  if (job->assignment_count != 0) return ERR_JOB_HAS_SUBMISSIONS;

  JobCancelledEvent event = {EVENT_JOB_CANCELLED_DISCRIMINATOR, *job_account->key};
  TRY(close_account(job_account, client, &event.refunded));
  emit_event(&event, EVENT_JOB_CANCELLED_LEN);
  return 0;
}
