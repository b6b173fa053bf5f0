#ifndef MOVIEREC_CZLIB_SHIM_H
#define MOVIEREC_CZLIB_SHIM_H

/* zlib: DEFLATE for zip archive entries and gzip files (inflate, crc32). */
#include <zlib.h>

#endif
