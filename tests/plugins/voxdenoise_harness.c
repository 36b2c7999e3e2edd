/* voxdenoise_harness.c - GstHarness checks of the voxdenoise element (run by test_voxdenoise.py).
 *
 *   voxdenoise_harness MODEL IN.f32 REF.f32 CYCLES
 * IN: 16 kHz samples; REF: the same model's output from libvoxpipe directly. Prints "ok   ..." /
 * "FAIL ..." lines; exit status 1 when any check failed. */
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_check.h"


static const char *model;
static float *in, *ref;
static size_t n_in, n_ref;

static GstHarness *
make_harness (void)
{
  gchar *desc = g_strdup_printf ("voxdenoise model=\"%s\"", model);
  GstHarness *h = gst_harness_new_parse (desc);
  g_free (desc);
  gst_harness_set_src_caps_str (h, "audio/x-raw,format=F32LE,layout=interleaved,rate=16000,channels=1");
  return h;
}

/* Pushes the input in 1600-sample buffers from time t0, then EOS; collects the output. Returns the
 * largest difference to REF, or +inf when lengths or timestamps are off (*why says which). */
static double
run (GstHarness * h, GstClockTime t0, const char **why)
{
  size_t got = 0;
  double maxd = 0;
  GstClockTime expect = t0;
  *why = "";
  push_f32 (h, in, 0, n_in, t0);
  gst_harness_push_event (h, gst_event_new_eos ());
  for (GstBuffer * b; (b = gst_harness_try_pull (h));) {
    GstMapInfo map;
    gst_buffer_map (b, &map, GST_MAP_READ);
    size_t k = map.size / sizeof (float);
    if (GST_BUFFER_PTS (b) > expect + GST_USECOND || GST_BUFFER_PTS (b) + GST_USECOND < expect)
      *why = "timestamps not contiguous from the first input timestamp";
    for (size_t j = 0; j < k && got + j < n_ref; j++)
      maxd = fmax (maxd, fabs (((const float *) map.data)[j] - ref[got + j]));
    got += k;
    expect = t0 + gst_util_uint64_scale (got, GST_SECOND, 16000);
    gst_buffer_unmap (b, &map);
    gst_buffer_unref (b);
  }
  if (got != n_in)
    *why = "output length differs from the input's";
  return **why ? INFINITY : maxd;
}

int
main (int argc, char **argv)
{
  if (argc < 5)
    return 2;
  gst_init (NULL, NULL);
  model = argv[1];
  in = read_f32 (argv[2], &n_in);
  ref = read_f32 (argv[3], &n_ref);
  int cycles = atoi (argv[4]);
  if (!in || !ref || n_in != n_ref)
    return 2;
  char what[256];
  const char *why;

  GstHarness *h = make_harness ();
  gst_harness_set_upstream_latency (h, 5 * GST_MSECOND);
  gst_harness_play (h);
  double d = run (h, 3 * GST_SECOND, &why);
  snprintf (what, sizeof what, "every sample out once, timestamps from the input's, equal to libvoxpipe "
      "(max diff %.1e) %s", d, why);
  check (d <= 1e-4, what);
  check_latency (h, 325 * GST_MSECOND, "latency query: upstream 5 ms + the model's 320 ms");

  /* a flush starts a new stream: the same input gives the same output again */
  flushing_seek (h);
  d = run (h, 0, &why);
  snprintf (what, sizeof what, "after a flushing seek the stream restarts (max diff %.1e) %s", d, why);
  check (d <= 1e-4, what);
  gst_harness_teardown (h);

  /* NULL -> PLAYING -> NULL cycles */
  for (int i = 0; i < cycles; i++) {
    GstHarness *c = make_harness ();
    gst_harness_play (c);
    gst_harness_teardown (c);
  }
  snprintf (what, sizeof what, "%d NULL->PLAYING->NULL cycles", cycles);
  check (1, what);
  check_element_errors ("voxdenoise");
  free (in);
  free (ref);
  gst_deinit ();
  return failures ? 1 : 0;
}
