/* update_provider(endpoint, capacity, status)
 *   0. [signer] owner
 *   1. [writable] provider */
#include "tessera/events.h"

static uint64_t process_update_provider(const Context *ctx) {
  TRY(require_accounts(ctx, UPDATE_PROVIDER_ACCOUNTS));
  TRY(require_data_len(ctx, UPDATE_PROVIDER_DATA_LEN));
  const SolAccountInfo *owner = &ctx->accounts[0];
  const SolAccountInfo *provider_account = &ctx->accounts[1];
  const UpdateProviderArgs *args = (const UpdateProviderArgs *)ctx->data;
  Provider *provider;

  TRY(require_signer(owner));
  TRY(LOAD_PROVIDER(ctx, provider_account, true, &provider));
  if (!pubkey_eq(&provider->owner, owner->key)) return ERR_UNAUTHORIZED;
  TRY(validate_endpoint(args->endpoint));
  if (args->capacity == 0) return ERR_INVALID_CAPACITY;
  if (args->status >= PROVIDER_STATUS_COUNT) return ERR_INVALID_STATUS;

  sol_memcpy_(provider->endpoint, args->endpoint, sizeof(provider->endpoint));
  provider->capacity = args->capacity;
  provider->status = args->status;

  ProviderUpdatedEvent event = {EVENT_PROVIDER_UPDATED_DISCRIMINATOR, *provider_account->key,
                                args->capacity, args->status};
  emit_event(&event, EVENT_PROVIDER_UPDATED_LEN);
  return 0;
}
