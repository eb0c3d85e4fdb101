/*
 * net.h - the sync protocol: a sans-I/O engine and its libuv adapter.
 * (Filled in by the network issue; for now only the protocol version.)
 */
#ifndef TONGXIN_NET_H
#define TONGXIN_NET_H

#include "crdt.h"

#define NET_PROTOCOL_VERSION 1

/* The protocol version this build speaks. */
int net_protocol_version(void);

#endif
