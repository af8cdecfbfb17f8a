#include "heaptrail/trace.h"

const char *ht_version(void) { return HEAPTRAIL_VERSION; }
