/* One handler per instruction, each in src/instructions/<name>.c. */
#pragma once
#include "tessera/context.h"

static uint64_t process_initialize_market(const Context *ctx);
static uint64_t process_update_market(const Context *ctx);
static uint64_t process_register_provider(const Context *ctx);
static uint64_t process_add_stake(const Context *ctx);
static uint64_t process_request_unstake(const Context *ctx);
static uint64_t process_withdraw_stake(const Context *ctx);
static uint64_t process_update_provider(const Context *ctx);
static uint64_t process_create_job(const Context *ctx);
static uint64_t process_submit_results(const Context *ctx);
static uint64_t process_settle(const Context *ctx);
static uint64_t process_slash(const Context *ctx);
static uint64_t process_cancel_job(const Context *ctx);
static uint64_t process_refund(const Context *ctx);
static uint64_t process_close_job(const Context *ctx);
static uint64_t process_close_assignment(const Context *ctx);
static uint64_t process_serve_cached(const Context *ctx);
static uint64_t process_unwind_assignment(const Context *ctx);
static uint64_t process_open_channel(const Context *ctx);
static uint64_t process_top_up_channel(const Context *ctx);
static uint64_t process_claim_channel(const Context *ctx);
static uint64_t process_request_withdraw(const Context *ctx);
static uint64_t process_withdraw(const Context *ctx);
static uint64_t process_open_epoch(const Context *ctx);
static uint64_t process_claim_epoch(const Context *ctx);
