/* zlib inflate alone, for comparison with isal_inflate.c (BENCHMARKS.md): one deflated zip entry held in
 * memory, inflated into an 8 MiB buffer, no parsing. Build: gcc -O2 Benchmarks/baselines/zlib_inflate.c -o /tmp/zlib_inflate -lz
 * Run: /tmp/zlib_inflate ARCHIVE.zip OFFSET LENGTH (the entry's data offset and compressed size). */
#include <zlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int c, char **v) {
  long off = atol(v[2]), len = atol(v[3]);
  FILE *f = fopen(v[1], "rb"); fseek(f, off, SEEK_SET);
  unsigned char *in = malloc(len); fread(in, 1, len, f);
  size_t chunk = 8 << 20; unsigned char *out = malloc(chunk);
  struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
  z_stream z = {0}; inflateInit2(&z, -15); z.next_in = in; z.avail_in = len; long total = 0; int r;
  do { z.next_out = out; z.avail_out = chunk; r = inflate(&z, Z_NO_FLUSH); total += chunk - z.avail_out; } while (r == Z_OK);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("inflate %ld bytes in %.3f s (zlib %s)\n", total, (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9, zlibVersion());
}
