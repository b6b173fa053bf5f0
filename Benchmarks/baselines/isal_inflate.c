/* ISA-L inflate alone, the floor of reading a zipped ratings file (BENCHMARKS.md).
 * Inflates one deflated zip entry held in memory into an 8 MiB buffer, no parsing, and prints the time.
 * Build and run: gcc -O2 Benchmarks/baselines/isal_inflate.c -o /tmp/isal_inflate -lisal
 *   /tmp/isal_inflate ARCHIVE.zip OFFSET LENGTH   (the entry's data offset and compressed size, e.g. from
 *   python3 -c "import zipfile; ..." or `zipinfo -v`). */
#include <isa-l/igzip_lib.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int c, char **v) {
  long off = atol(v[2]), len = atol(v[3]);
  FILE *f = fopen(v[1], "rb"); fseek(f, off, SEEK_SET);
  unsigned char *in = malloc(len); fread(in, 1, len, f);
  size_t chunk = 8 << 20; unsigned char *out = malloc(chunk);
  struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
  struct inflate_state s; isal_inflate_init(&s); s.next_in = in; s.avail_in = len; s.crc_flag = ISAL_DEFLATE;
  long total = 0; int r;
  do { s.next_out = out; s.avail_out = chunk; r = isal_inflate(&s); total += chunk - s.avail_out; } while (r == ISAL_DECOMP_OK && s.block_state != ISAL_BLOCK_FINISH);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("isa-l inflate %ld bytes in %.3f s (r=%d)\n", total, (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9, r);
}
