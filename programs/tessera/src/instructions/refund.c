/* refund()
 *   0. [writable, signer] client
 *   1. [writable] job */
#include "tessera/events.h"

static uint64_t process_refund(const Context *ctx) {
  const SolAccountInfo *client = &ctx->accounts[0];
  const SolAccountInfo *job_account = &ctx->accounts[1];
  Job *job;

  TRY(load_clients_job(ctx, REFUND_ACCOUNTS, REFUND_DATA_LEN, &job));
  if (clock_unix_timestamp() <= job->deadline) return ERR_DEADLINE_NOT_PASSED;
  /* Pending submissions may still be paid, with their fee: keep that back.
   * Settle pays at most price × shards plus the fee rounded down. */
  uint64_t reserved, refundable;
  TRY(checked_mul(job->pending_shards, job->price_per_shard, &reserved));
  TRY(checked_add(reserved, bps_ceil(reserved, job->fee_bps), &reserved));
  if (job->escrow <= reserved) return ERR_NOTHING_TO_REFUND;
  refundable = job->escrow - reserved;

  TRY(move_lamports(job_account, client, refundable));
  job->escrow = reserved;

  JobRefundedEvent event = {EVENT_JOB_REFUNDED_DISCRIMINATOR, *job_account->key, refundable, reserved};
  emit_event(&event, EVENT_JOB_REFUNDED_LEN);
  return 0;
}
