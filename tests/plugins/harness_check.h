/* harness_check.h - what the GstHarness test programs share: their "ok   ..." / "FAIL ..." lines and
 * reading their float input files. */
#ifndef VOX_HARNESS_CHECK_H
#define VOX_HARNESS_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int failures;

static void
check (int cond, const char *what)
{
  printf ("%s %s\n", cond ? "ok  " : "FAIL", what);
  fflush (stdout);
  if (!cond)
    failures++;
}

/* A whole file of float samples (malloc'd; NULL when unreadable), its length in *n. */
static float *
read_f32 (const char *path, size_t *n)
{
  FILE *f = fopen (path, "rb");
  if (!f)
    return NULL;
  fseek (f, 0, SEEK_END);
  *n = (size_t) ftell (f) / sizeof (float);
  fseek (f, 0, SEEK_SET);
  float *b = malloc (*n * sizeof (float) + 1);
  if (b && fread (b, sizeof (float), *n, f) != *n) {
    free (b);
    b = NULL;
  }
  fclose (f);
  return b;
}

#endif
