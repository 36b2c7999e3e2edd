/* voxvad_harness.c - GstHarness checks of the voxvad element (run by test_voxvad.py).
 *
 *   voxvad_harness MODEL IN.f32 B0 B1 ... (boundaries in seconds: start, end, start, ...)
 * IN: 16 kHz samples ending inside speech (so its last end comes from EOS); B: the boundaries
 * offline `voxpipe vad` finds in the whole input. Prints "ok   ..." / "FAIL ..." lines; exit
 * status 1 when any check failed. */
#include <gst/gst.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_check.h"

static const char *model;
static float *in;
static size_t n_in;
static double want[64];
static int n_want;

static GstHarness *
make_harness (const char *props, GstBus ** bus)
{
  return harness_with_bus ("voxvad", model, props, bus);
}

/* The `voxvad` messages on the bus: their timestamps in seconds minus t0; returns how many. */
static int
boundaries (GstBus * bus, GstClockTime t0, double *t, int max)
{
  int n = 0;
  for (GstMessage * m; (m = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT));) {
    const GstStructure *s = gst_message_get_structure (m);
    guint64 ts;
    if (gst_structure_has_name (s, "voxvad") && gst_structure_get_uint64 (s, "timestamp", &ts) && n < max)
      t[n++] = ((double) ts - (double) t0) / GST_SECOND;
    gst_message_unref (m);
  }
  return n;
}

static int
same_boundaries (const double *t, int n)
{
  if (n != n_want)
    return 0;
  for (int i = 0; i < n; i++)
    if (fabs (t[i] - want[i]) > 0.011)
      return 0;
  return 1;
}

/* pass-through, messages, EOS, flush, latency */
static void
analysis_checks (void)
{
  char what[300];
  double t[64];
  GstBus *bus;
  GstHarness *h = make_harness ("", &bus);
  gst_harness_set_upstream_latency (h, 5 * GST_MSECOND);
  gst_harness_play (h);
  GstClockTime t0 = 10 * GST_SECOND;
  push_f32 (h, in, 0, n_in, t0);
  check (pulled_unchanged (h, in, n_in, t0), "audio passes through unchanged, timestamps kept");
  int before_eos = boundaries (bus, t0, t, 64);
  gst_harness_push_event (h, gst_event_new_eos ());
  int n = before_eos + boundaries (bus, t0, t + before_eos, 64 - before_eos);
  snprintf (what, sizeof what, "boundaries at the input's timestamps (+10 s) equal offline vad's (%d, %d "
      "before EOS: the open segment is closed by EOS)", n, before_eos);
  check (same_boundaries (t, n) && before_eos == n - 1, what);
  check_latency (h, 645 * GST_MSECOND, "latency query: upstream 5 ms + the 0.64 s decision delay");

  /* a flushing seek: the same audio from time 0 gives the same boundaries */
  flushing_seek (h);
  push_f32 (h, in, 0, n_in, 0);
  gst_harness_push_event (h, gst_event_new_eos ());
  n = boundaries (bus, 0, t, 64);
  check (same_boundaries (t, n), "after a flushing seek the detector restarts: the same boundaries");
  gst_harness_teardown (h);
  gst_object_unref (bus);
}

static int
by_start (const void *a, const void *b)
{
  double x = ((const double *) a)[0], y = ((const double *) b)[0];
  return (x > y) - (x < y);
}

/* drop-non-speech: speech buffers and GAP events that tile the input */
static void
gate_checks (void)
{
  char what[300];
  GstBus *bus;
  GstHarness *h = make_harness ("drop-non-speech=true", &bus);
  gst_harness_set_upstream_latency (h, 5 * GST_MSECOND);
  gst_harness_play (h);
  push_f32 (h, in, 0, n_in, 0);
  gst_harness_push_event (h, gst_event_new_eos ());
  /* the harness queues buffers and events apart: collect both as intervals, then they must tile */
  double iv[2048][2], speech = 0, gaps = 0;
  int n_iv = 0, tiled = 1, exact = 1;
  GstBuffer *b;
  GstEvent *e;
  while ((e = gst_harness_try_pull_event (h))) {
    if (GST_EVENT_TYPE (e) == GST_EVENT_GAP && n_iv < 2048) {
      GstClockTime ts, dur;
      gst_event_parse_gap (e, &ts, &dur);
      iv[n_iv][0] = (double) ts / GST_SECOND;
      iv[n_iv++][1] = (double) (ts + dur) / GST_SECOND;
      gaps += (double) dur / GST_SECOND;
    }
    gst_event_unref (e);
  }
  while ((b = gst_harness_try_pull (h)) && n_iv < 2048) {
    GstMapInfo map;
    gst_buffer_map (b, &map, GST_MAP_READ);
    size_t first = (size_t) llround ((double) GST_BUFFER_PTS (b) * 16000 / GST_SECOND);
    exact &= first + map.size / sizeof (float) <= n_in && !memcmp (map.data, in + first, map.size);
    iv[n_iv][0] = (double) GST_BUFFER_PTS (b) / GST_SECOND;
    iv[n_iv][1] = iv[n_iv][0] + (double) map.size / sizeof (float) / 16000;
    n_iv++;
    speech += (double) map.size / sizeof (float) / 16000;
    gst_buffer_unmap (b, &map);
    gst_buffer_unref (b);
  }
  if (b)
    gst_buffer_unref (b);
  qsort (iv, (size_t) n_iv, sizeof iv[0], by_start);
  for (int i = 0; i < n_iv; i++)
    tiled &= fabs (iv[i][0] - (i ? iv[i - 1][1] : 0.0)) < 1e-6;
  double want_speech = 0;
  for (int i = 0; i + 1 < n_want; i += 2)
    want_speech += want[i + 1] - want[i];
  snprintf (what, sizeof what, "drop-non-speech: speech buffers (%.3f s, unchanged: %s) and GAP events (%.3f s) "
      "tile the %.3f s of input (%s); offline vad finds %.3f s of speech", speech, exact ? "yes" : "no", gaps,
      (double) n_in / 16000, tiled ? "yes" : "no", want_speech);
  check (tiled && exact && fabs (speech + gaps - (double) n_in / 16000) < 1e-3
      && fabs (speech - want_speech) < 0.011 * n_want, what);
  check_latency (h, 655 * GST_MSECOND, "drop-non-speech latency: upstream 5 ms + the hold (decision delay + "
      "one frame)");
  gst_harness_teardown (h);
  gst_object_unref (bus);
}

int
main (int argc, char **argv)
{
  if (argc < 4)
    return 2;
  gst_init (NULL, NULL);
  model = argv[1];
  in = read_f32 (argv[2], &n_in);
  for (int i = 3; i < argc && n_want < 64; i++)
    want[n_want++] = atof (argv[i]);
  if (!in)
    return 2;
  analysis_checks ();
  gate_checks ();

  check_element_errors ("voxvad");
  free (in);
  gst_deinit ();
  return failures ? 1 : 0;
}
