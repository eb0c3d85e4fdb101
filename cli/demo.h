/* demo.h - the realistic data set (demo_data.c) and the totals it produces. */
#ifndef TONGXIN_CLI_DEMO_H
#define TONGXIN_CLI_DEMO_H

#include "node.h"

/* The seed report's figures, as the data set makes them (district totals). */
#define DEMO_COMPANIES        120
#define DEMO_COMPANIES_PARTY  5
#define DEMO_COMMITTEES       155
#define DEMO_COMMITTEES_PARTY 16
#define DEMO_RESOLVED         2089
#define DEMO_YGC_BUILDINGS    103
#define DEMO_YGC_UNITS        231
#define DEMO_YGC_HOUSEHOLDS   2763
#define DEMO_YGC_GRID_LEADERS 3
#define DEMO_THREE_LEADERS    337 /* 3 + 103 + 231 */
#define DEMO_ELDERLY_VISITS   412 /* "400+" */
#define DEMO_ERRANDS          239
#define DEMO_CHILD_PROBLEMS   234 /* "230+" */
#define DEMO_POSTERS          812 /* "800+" */
#define DEMO_ADS              673 /* "670+" */
#define DEMO_RED_TEAMS        10
#define DEMO_RED_PEOPLE       162
#define DEMO_ELECTION         "e-ygc-2"
#define DEMO_BALLOTS          2210
#define DEMO_BALLOTS_A        1512
#define DEMO_BALLOTS_B        598
#define DEMO_BALLOTS_ABSTAIN  100

#define DEMO_BATCH 1000 /* changes per envelope */

struct demo_stats {
    uint64_t records, changes;
};

/* Receives one envelope's worth of changes, all of one scope (borrowed). */
typedef int (*demo_emit_fn)(void *ctx, const char *scope, const struct node_change *ch, size_t n);

/* Generate the data set of one community (xidajie, fulin, bojin, gongyuan),
 * deterministic from seed. TX_ENOTFOUND for another community. */
int demo_generate(const char *community, uint64_t seed, demo_emit_fn emit, void *ctx,
                  struct demo_stats *st);
const char *demo_community_name(const char *community);

#endif
