/* harness_check.h - the "ok   ..." / "FAIL ..." lines of the GstHarness test programs. */
#ifndef VOX_HARNESS_CHECK_H
#define VOX_HARNESS_CHECK_H

#include <stdio.h>

static int failures;

static void
check (int cond, const char *what)
{
  printf ("%s %s\n", cond ? "ok  " : "FAIL", what);
  fflush (stdout);
  if (!cond)
    failures++;
}

#endif
