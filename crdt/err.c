/* err.c - the project-wide error table. */
#include "crdt.h"

const char *tx_strerror(int err)
{
    switch (err) {
    case TX_OK: return "success";
#define TX__ERRSTR(name, num, msg)                                                                 \
    case TX_##name: return msg;
        TX_ERRNO_MAP(TX__ERRSTR)
#undef TX__ERRSTR
    default: return "unknown error";
    }
}

const char *tx_errname(int err)
{
    switch (err) {
    case TX_OK: return "OK";
#define TX__ERRNAME(name, num, msg)                                                                \
    case TX_##name: return #name;
        TX_ERRNO_MAP(TX__ERRNAME)
#undef TX__ERRNAME
    default: return "EUNKNOWN";
    }
}
