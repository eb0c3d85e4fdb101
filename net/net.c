#include "net.h"

int net_protocol_version(void)
{
    return NET_PROTOCOL_VERSION;
}
