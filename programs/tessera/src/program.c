/* The program is one translation unit: the linker takes a single object, and
 * clang inlines the shared account checks into each instruction. */
#include "entrypoint.c"
#include "market_config.c"
#include "instructions/initialize_market.c"
#include "instructions/update_market.c"
#include "instructions/register_provider.c"
#include "instructions/add_stake.c"
#include "instructions/request_unstake.c"
#include "instructions/withdraw_stake.c"
#include "instructions/update_provider.c"
