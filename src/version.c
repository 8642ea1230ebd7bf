/* The version of the library itself, as opposed to the header's. */
#include "internal.h"

unsigned reexec_version(void)
{
	return REEXEC_VERSION;
}
