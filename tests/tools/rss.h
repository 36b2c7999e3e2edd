/* rss.h - the resident memory of this process, for the tests that watch it stay flat. */
#ifndef VOX_TEST_RSS_H
#define VOX_TEST_RSS_H

#include <stdio.h>
#include <unistd.h>

/* Resident set size in kB (from /proc/self/statm); 0 when unreadable. */
static inline long rss_kb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f && fscanf(f, "%ld %ld", &pages, &rss) != 2)
    rss = 0;
  if (f)
    fclose(f);
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

#endif
