#ifndef MOVIEREC_CISAL_SHIM_H
#define MOVIEREC_CISAL_SHIM_H

/* Intel ISA-L: DEFLATE for zip archive entries and gzip files (isal_inflate), CRC-32 (crc32_gzip_refl). */
#include <isa-l/igzip_lib.h>
#include <isa-l/crc.h>

#endif
