/* close_assignment()
 *   0. [writable, signer] owner: the provider's owner
 *   1. [] provider
 *   2. [writable] assignment
 *   3. [] job: closed already (or holding a newer job)
 * An assignment outlives its job's settlement because it remembers which
 * shards its provider submitted; once the job is closed, no shard of it can
 * be submitted again, so the record can go. */
#include "tessera/events.h"

static uint64_t process_close_assignment(const Context *ctx) {
  TRY(require_accounts(ctx, CLOSE_ASSIGNMENT_ACCOUNTS));
  TRY(require_data_len(ctx, CLOSE_ASSIGNMENT_DATA_LEN));
  const SolAccountInfo *owner = &ctx->accounts[0];
  const SolAccountInfo *provider_account = &ctx->accounts[1];
  const SolAccountInfo *assignment_account = &ctx->accounts[2];
  const SolAccountInfo *job_account = &ctx->accounts[3];
  Provider *provider;
  Assignment *assignment;

  TRY(require_writable_signer(owner));
  TRY(LOAD_PROVIDER(ctx, provider_account, false, &provider));
  TRY(LOAD_ASSIGNMENT(ctx, assignment_account, true, &assignment));
  if (!pubkey_eq(&provider->owner, owner->key)) return ERR_UNAUTHORIZED;
  if (!pubkey_eq(&assignment->provider, provider_account->key) || !pubkey_eq(&assignment->job, job_account->key))
    return ERR_WRONG_JOB;
  /* Clients choose job ids, so a closed job's address can hold a new job:
   * an assignment last submitted before that job was created is not its. */
  if (is_account_of_type(ctx, job_account, &JOB_TYPE) &&
      ((const Job *)job_account->data)->created_at <= assignment->submitted_at)
    return ERR_JOB_NOT_CLOSED;

  AssignmentClosedEvent event = {EVENT_ASSIGNMENT_CLOSED_DISCRIMINATOR, *assignment_account->key};
  TRY(close_account(assignment_account, owner, &event.refunded));
  emit_event(&event, EVENT_ASSIGNMENT_CLOSED_LEN);
  return 0;
}
