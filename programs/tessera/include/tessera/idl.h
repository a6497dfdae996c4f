/* Generated from idl/tessera.json by marketplace.sbf.idl_header. Do not edit: */
/* change the IDL and run `tessera program build`. */
#pragma once
#include "tessera/sol.h"

/* Errors: custom program error codes. */
#define ERR_UNKNOWN_INSTRUCTION 6000 /* The instruction discriminator names no Tessera instruction */
#define ERR_INVALID_INSTRUCTION_DATA 6001 /* Instruction data has the wrong length for its instruction */
#define ERR_NOT_ENOUGH_ACCOUNTS 6002 /* Fewer accounts than the instruction needs */
#define ERR_MISSING_SIGNER 6003 /* An account that must sign did not */
#define ERR_ACCOUNT_NOT_WRITABLE 6004 /* An account that must be writable is not */
#define ERR_INVALID_ACCOUNT_OWNER 6005 /* An account is not owned by the expected program */
#define ERR_INVALID_DISCRIMINATOR 6006 /* An account holds another type than expected */
#define ERR_INVALID_ACCOUNT_DATA 6007 /* An account has the wrong size for its type */
#define ERR_INVALID_PDA 6008 /* An account is not the PDA its seeds derive */
#define ERR_DUPLICATE_ACCOUNT 6009 /* The same account was passed twice */
#define ERR_ARITHMETIC_OVERFLOW 6010 /* An amount overflowed or underflowed */
#define ERR_INVALID_BPS 6011 /* A basis-point value is above 10000 */
#define ERR_INVALID_CONFIG 6012 /* A market parameter is out of range */
#define ERR_UNAUTHORIZED 6013 /* The signer is not the authority or owner of this account */
#define ERR_WRONG_MARKET 6014 /* The account belongs to another market */
#define ERR_STAKE_BELOW_MINIMUM 6015 /* Stake is below the market's minimum */
#define ERR_INSUFFICIENT_FREE_STAKE 6016 /* Not enough unlocked stake for this amount */
#define ERR_UNBONDING_NOT_ELAPSED 6017 /* The unbonding period has not passed yet */
#define ERR_NOTHING_TO_WITHDRAW 6018 /* No unbonding stake to withdraw */
#define ERR_ACCOUNT_ALREADY_INITIALIZED 6019 /* The account already exists */
#define ERR_INVALID_SYSTEM_PROGRAM 6020 /* The system program account is not the system program */
#define ERR_INVALID_ENDPOINT 6021 /* The endpoint must be printable ASCII padded with zero bytes */
#define ERR_ZERO_AMOUNT 6022 /* The amount must be greater than zero */
#define ERR_UNSUPPORTED_RENT 6023 /* The Rent sysvar has an exemption threshold other than 2.0 */
#define ERR_INVALID_CAPACITY 6024 /* Capacity must be at least 1 */
#define ERR_INVALID_STATUS 6025 /* Unknown provider status */
#define ERR_TOO_MANY_ACCOUNTS 6026 /* More accounts than any Tessera instruction takes */

/* Enums: Borsh encodes a unit variant as its index in one byte. */
#define PROVIDER_STATUS_ACTIVE 0
#define PROVIDER_STATUS_PAUSED 1
#define PROVIDER_STATUS_COUNT 2

/* Types shared by accounts and arguments. */
typedef struct {
  SolPubkey verifier;
  SolPubkey treasury;
  uint64_t min_stake;
  int64_t unbonding_period;
  int64_t claim_timeout;
  uint16_t fee_bps;
  uint16_t slash_bps;
  uint16_t sampling_rate_bps;
} MarketConfig;
_Static_assert(offsetof(MarketConfig, verifier) == 0, "MarketConfig.verifier");
_Static_assert(offsetof(MarketConfig, treasury) == 32, "MarketConfig.treasury");
_Static_assert(offsetof(MarketConfig, min_stake) == 64, "MarketConfig.min_stake");
_Static_assert(offsetof(MarketConfig, unbonding_period) == 72, "MarketConfig.unbonding_period");
_Static_assert(offsetof(MarketConfig, claim_timeout) == 80, "MarketConfig.claim_timeout");
_Static_assert(offsetof(MarketConfig, fee_bps) == 88, "MarketConfig.fee_bps");
_Static_assert(offsetof(MarketConfig, slash_bps) == 90, "MarketConfig.slash_bps");
_Static_assert(offsetof(MarketConfig, sampling_rate_bps) == 92, "MarketConfig.sampling_rate_bps");
#define MARKET_CONFIG_LEN 94

/* Accounts: discriminator = sha256("account:<Name>")[:8] as a little-endian u64. */
#define MARKET_DISCRIMINATOR 0x9ac6e30037d5bedbULL
#define MARKET_LEN 160
typedef struct {
  uint64_t discriminator;
  SolPubkey authority;
  SolPubkey verifier;
  SolPubkey treasury;
  uint64_t min_stake;
  int64_t unbonding_period;
  int64_t claim_timeout;
  uint64_t next_job_id;
  uint64_t total_stake;
  uint64_t provider_count;
  uint16_t fee_bps;
  uint16_t slash_bps;
  uint16_t sampling_rate_bps;
  uint8_t bump;
  uint8_t padding[1];
} Market;
_Static_assert(offsetof(Market, authority) == 8, "Market.authority");
_Static_assert(offsetof(Market, verifier) == 40, "Market.verifier");
_Static_assert(offsetof(Market, treasury) == 72, "Market.treasury");
_Static_assert(offsetof(Market, min_stake) == 104, "Market.min_stake");
_Static_assert(offsetof(Market, unbonding_period) == 112, "Market.unbonding_period");
_Static_assert(offsetof(Market, claim_timeout) == 120, "Market.claim_timeout");
_Static_assert(offsetof(Market, next_job_id) == 128, "Market.next_job_id");
_Static_assert(offsetof(Market, total_stake) == 136, "Market.total_stake");
_Static_assert(offsetof(Market, provider_count) == 144, "Market.provider_count");
_Static_assert(offsetof(Market, fee_bps) == 152, "Market.fee_bps");
_Static_assert(offsetof(Market, slash_bps) == 154, "Market.slash_bps");
_Static_assert(offsetof(Market, sampling_rate_bps) == 156, "Market.sampling_rate_bps");
_Static_assert(offsetof(Market, bump) == 158, "Market.bump");
_Static_assert(offsetof(Market, padding) == 159, "Market.padding");
_Static_assert(sizeof(Market) == MARKET_LEN, "Market size");

#define PROVIDER_DISCRIMINATOR 0xc350d84b1147b4a4ULL
#define PROVIDER_LEN 264
typedef struct {
  uint64_t discriminator;
  SolPubkey market;
  SolPubkey owner;
  uint64_t stake;
  uint64_t locked_stake;
  uint64_t unbonding_stake;
  int64_t unbond_at;
  int64_t registered_at;
  uint64_t shards_served;
  uint64_t shards_slashed;
  uint32_t capacity;
  uint8_t status;
  uint8_t bump;
  uint8_t padding[2];
  uint8_t endpoint[128];
} Provider;
_Static_assert(offsetof(Provider, market) == 8, "Provider.market");
_Static_assert(offsetof(Provider, owner) == 40, "Provider.owner");
_Static_assert(offsetof(Provider, stake) == 72, "Provider.stake");
_Static_assert(offsetof(Provider, locked_stake) == 80, "Provider.locked_stake");
_Static_assert(offsetof(Provider, unbonding_stake) == 88, "Provider.unbonding_stake");
_Static_assert(offsetof(Provider, unbond_at) == 96, "Provider.unbond_at");
_Static_assert(offsetof(Provider, registered_at) == 104, "Provider.registered_at");
_Static_assert(offsetof(Provider, shards_served) == 112, "Provider.shards_served");
_Static_assert(offsetof(Provider, shards_slashed) == 120, "Provider.shards_slashed");
_Static_assert(offsetof(Provider, capacity) == 128, "Provider.capacity");
_Static_assert(offsetof(Provider, status) == 132, "Provider.status");
_Static_assert(offsetof(Provider, bump) == 133, "Provider.bump");
_Static_assert(offsetof(Provider, padding) == 134, "Provider.padding");
_Static_assert(offsetof(Provider, endpoint) == 136, "Provider.endpoint");
_Static_assert(sizeof(Provider) == PROVIDER_LEN, "Provider size");

/* Instructions: discriminator = sha256("global:<snake_name>")[:8]; data = discriminator + Borsh args. */
#define IX_INITIALIZE_MARKET 0xcbaa309bc1bd2323ULL
#define INITIALIZE_MARKET_ACCOUNTS 3
#define INITIALIZE_MARKET_DATA_LEN 102
typedef struct {
  uint64_t discriminator;
  MarketConfig config;
} InitializeMarketArgs;
_Static_assert(offsetof(InitializeMarketArgs, config) == 8, "InitializeMarketArgs.config");

#define IX_UPDATE_MARKET 0xd9c732b3c5022799ULL
#define UPDATE_MARKET_ACCOUNTS 2
#define UPDATE_MARKET_DATA_LEN 102
typedef struct {
  uint64_t discriminator;
  MarketConfig config;
} UpdateMarketArgs;
_Static_assert(offsetof(UpdateMarketArgs, config) == 8, "UpdateMarketArgs.config");

#define IX_REGISTER_PROVIDER 0x4e6dc52eb836d1feULL
#define REGISTER_PROVIDER_ACCOUNTS 4
#define REGISTER_PROVIDER_DATA_LEN 148
typedef struct {
  uint64_t discriminator;
  uint8_t endpoint[128];
  uint64_t stake;
  uint32_t capacity;
} RegisterProviderArgs;
_Static_assert(offsetof(RegisterProviderArgs, endpoint) == 8, "RegisterProviderArgs.endpoint");
_Static_assert(offsetof(RegisterProviderArgs, stake) == 136, "RegisterProviderArgs.stake");
_Static_assert(offsetof(RegisterProviderArgs, capacity) == 144, "RegisterProviderArgs.capacity");

#define IX_ADD_STAKE 0xe0a578a069bd873aULL
#define ADD_STAKE_ACCOUNTS 4
#define ADD_STAKE_DATA_LEN 16
typedef struct {
  uint64_t discriminator;
  uint64_t amount;
} AddStakeArgs;
_Static_assert(offsetof(AddStakeArgs, amount) == 8, "AddStakeArgs.amount");

#define IX_REQUEST_UNSTAKE 0x2236caa0fd6e9a2cULL
#define REQUEST_UNSTAKE_ACCOUNTS 3
#define REQUEST_UNSTAKE_DATA_LEN 16
typedef struct {
  uint64_t discriminator;
  uint64_t amount;
} RequestUnstakeArgs;
_Static_assert(offsetof(RequestUnstakeArgs, amount) == 8, "RequestUnstakeArgs.amount");

#define IX_WITHDRAW_STAKE 0x4257b0698a160899ULL
#define WITHDRAW_STAKE_ACCOUNTS 2
#define WITHDRAW_STAKE_DATA_LEN 8
typedef struct {
  uint64_t discriminator;
} WithdrawStakeArgs;

#define IX_UPDATE_PROVIDER 0x966c36a4bf8dd034ULL
#define UPDATE_PROVIDER_ACCOUNTS 2
#define UPDATE_PROVIDER_DATA_LEN 141
typedef struct {
  uint64_t discriminator;
  uint8_t endpoint[128];
  uint32_t capacity;
  uint8_t status;
} UpdateProviderArgs;
_Static_assert(offsetof(UpdateProviderArgs, endpoint) == 8, "UpdateProviderArgs.endpoint");
_Static_assert(offsetof(UpdateProviderArgs, capacity) == 136, "UpdateProviderArgs.capacity");
_Static_assert(offsetof(UpdateProviderArgs, status) == 140, "UpdateProviderArgs.status");

/* Events: logged with sol_log_data as discriminator (sha256("event:<Name>")[:8]) + Borsh. */
#define EVENT_MARKET_INITIALIZED_DISCRIMINATOR 0x51ff0332577aa086ULL
#define EVENT_MARKET_INITIALIZED_LEN 136
typedef struct {
  uint64_t discriminator;
  SolPubkey market;
  SolPubkey authority;
  SolPubkey verifier;
  SolPubkey treasury;
} MarketInitializedEvent;
_Static_assert(offsetof(MarketInitializedEvent, market) == 8, "MarketInitializedEvent.market");
_Static_assert(offsetof(MarketInitializedEvent, authority) == 40, "MarketInitializedEvent.authority");
_Static_assert(offsetof(MarketInitializedEvent, verifier) == 72, "MarketInitializedEvent.verifier");
_Static_assert(offsetof(MarketInitializedEvent, treasury) == 104, "MarketInitializedEvent.treasury");

#define EVENT_MARKET_UPDATED_DISCRIMINATOR 0xfbd9a874934a33aaULL
#define EVENT_MARKET_UPDATED_LEN 134
typedef struct {
  uint64_t discriminator;
  SolPubkey market;
  SolPubkey verifier;
  SolPubkey treasury;
  uint64_t min_stake;
  int64_t unbonding_period;
  int64_t claim_timeout;
  uint16_t fee_bps;
  uint16_t slash_bps;
  uint16_t sampling_rate_bps;
} MarketUpdatedEvent;
_Static_assert(offsetof(MarketUpdatedEvent, market) == 8, "MarketUpdatedEvent.market");
_Static_assert(offsetof(MarketUpdatedEvent, verifier) == 40, "MarketUpdatedEvent.verifier");
_Static_assert(offsetof(MarketUpdatedEvent, treasury) == 72, "MarketUpdatedEvent.treasury");
_Static_assert(offsetof(MarketUpdatedEvent, min_stake) == 104, "MarketUpdatedEvent.min_stake");
_Static_assert(offsetof(MarketUpdatedEvent, unbonding_period) == 112, "MarketUpdatedEvent.unbonding_period");
_Static_assert(offsetof(MarketUpdatedEvent, claim_timeout) == 120, "MarketUpdatedEvent.claim_timeout");
_Static_assert(offsetof(MarketUpdatedEvent, fee_bps) == 128, "MarketUpdatedEvent.fee_bps");
_Static_assert(offsetof(MarketUpdatedEvent, slash_bps) == 130, "MarketUpdatedEvent.slash_bps");
_Static_assert(offsetof(MarketUpdatedEvent, sampling_rate_bps) == 132, "MarketUpdatedEvent.sampling_rate_bps");

#define EVENT_PROVIDER_REGISTERED_DISCRIMINATOR 0x0e9313b94e89d126ULL
#define EVENT_PROVIDER_REGISTERED_LEN 116
typedef struct {
  uint64_t discriminator;
  SolPubkey market;
  SolPubkey provider;
  SolPubkey owner;
  uint64_t stake;
  uint32_t capacity;
} ProviderRegisteredEvent;
_Static_assert(offsetof(ProviderRegisteredEvent, market) == 8, "ProviderRegisteredEvent.market");
_Static_assert(offsetof(ProviderRegisteredEvent, provider) == 40, "ProviderRegisteredEvent.provider");
_Static_assert(offsetof(ProviderRegisteredEvent, owner) == 72, "ProviderRegisteredEvent.owner");
_Static_assert(offsetof(ProviderRegisteredEvent, stake) == 104, "ProviderRegisteredEvent.stake");
_Static_assert(offsetof(ProviderRegisteredEvent, capacity) == 112, "ProviderRegisteredEvent.capacity");

#define EVENT_STAKE_ADDED_DISCRIMINATOR 0xc11760165a86aa8bULL
#define EVENT_STAKE_ADDED_LEN 56
typedef struct {
  uint64_t discriminator;
  SolPubkey provider;
  uint64_t amount;
  uint64_t stake;
} StakeAddedEvent;
_Static_assert(offsetof(StakeAddedEvent, provider) == 8, "StakeAddedEvent.provider");
_Static_assert(offsetof(StakeAddedEvent, amount) == 40, "StakeAddedEvent.amount");
_Static_assert(offsetof(StakeAddedEvent, stake) == 48, "StakeAddedEvent.stake");

#define EVENT_UNSTAKE_REQUESTED_DISCRIMINATOR 0x982ace8155b1fd15ULL
#define EVENT_UNSTAKE_REQUESTED_LEN 64
typedef struct {
  uint64_t discriminator;
  SolPubkey provider;
  uint64_t amount;
  uint64_t unbonding_stake;
  int64_t unbond_at;
} UnstakeRequestedEvent;
_Static_assert(offsetof(UnstakeRequestedEvent, provider) == 8, "UnstakeRequestedEvent.provider");
_Static_assert(offsetof(UnstakeRequestedEvent, amount) == 40, "UnstakeRequestedEvent.amount");
_Static_assert(offsetof(UnstakeRequestedEvent, unbonding_stake) == 48, "UnstakeRequestedEvent.unbonding_stake");
_Static_assert(offsetof(UnstakeRequestedEvent, unbond_at) == 56, "UnstakeRequestedEvent.unbond_at");

#define EVENT_STAKE_WITHDRAWN_DISCRIMINATOR 0x4faeff8c3a9f7821ULL
#define EVENT_STAKE_WITHDRAWN_LEN 48
typedef struct {
  uint64_t discriminator;
  SolPubkey provider;
  uint64_t amount;
} StakeWithdrawnEvent;
_Static_assert(offsetof(StakeWithdrawnEvent, provider) == 8, "StakeWithdrawnEvent.provider");
_Static_assert(offsetof(StakeWithdrawnEvent, amount) == 40, "StakeWithdrawnEvent.amount");

#define EVENT_PROVIDER_UPDATED_DISCRIMINATOR 0x88a4d07ab41b048fULL
#define EVENT_PROVIDER_UPDATED_LEN 45
typedef struct {
  uint64_t discriminator;
  SolPubkey provider;
  uint32_t capacity;
  uint8_t status;
} ProviderUpdatedEvent;
_Static_assert(offsetof(ProviderUpdatedEvent, provider) == 8, "ProviderUpdatedEvent.provider");
_Static_assert(offsetof(ProviderUpdatedEvent, capacity) == 40, "ProviderUpdatedEvent.capacity");
_Static_assert(offsetof(ProviderUpdatedEvent, status) == 44, "ProviderUpdatedEvent.status");
