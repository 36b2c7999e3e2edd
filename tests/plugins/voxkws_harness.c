/* voxkws_harness.c - GstHarness checks of the voxkws element (run by test_voxkws.py).
 *
 *   voxkws_harness MODEL IN.f32 WORD START END [WORD START END ...]
 * IN: 16 kHz samples ending while the last command word is still being detected (so that detection
 * comes from EOS); WORD START END: the detections `voxpipe commands` makes on the whole input
 * (seconds). Prints "ok   ..." / "FAIL ..." lines; exit status 1 when any check failed. */
#include <gst/gst.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_check.h"

#define MAX_DET 16

typedef struct detection
{
  char word[32];
  double start, end, stream_time, running_time;
} detection;

static const char *model;
static float *in;
static size_t n_in;
static detection want[MAX_DET];
static int n_want;

static GstHarness *
make_harness (const char *props, GstBus ** bus)
{
  return harness_with_bus ("voxkws", model, props, bus);
}

/* The `voxkws` messages on the bus (times in seconds); returns how many were added at d[n...]. */
static int
detections (GstBus * bus, detection * d, int n)
{
  int added = 0;
  for (GstMessage * m; (m = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT));) {
    const GstStructure *s = gst_message_get_structure (m);
    guint64 start, end, st, rt;
    const gchar *word = gst_structure_get_string (s, "word");
    if (gst_structure_has_name (s, "voxkws") && word && n + added < MAX_DET
        && gst_structure_get_uint64 (s, "start", &start) && gst_structure_get_uint64 (s, "end", &end)
        && gst_structure_get_uint64 (s, "stream-time", &st) && gst_structure_get_uint64 (s, "running-time", &rt)) {
      detection *x = &d[n + added++];
      g_strlcpy (x->word, word, sizeof x->word);
      x->start = (double) start / GST_SECOND;
      x->end = (double) end / GST_SECOND;
      x->stream_time = (double) st / GST_SECOND;
      x->running_time = (double) rt / GST_SECOND;
    }
    gst_message_unref (m);
  }
  return added;
}

/* The detections equal offline ones shifted by t0 seconds (start/end within 11 ms). */
static int
same_detections (const detection * d, int n, double t0)
{
  if (n != n_want)
    return 0;
  for (int i = 0; i < n; i++)
    if (strcmp (d[i].word, want[i].word) || fabs (d[i].start - t0 - want[i].start) > 0.011
        || fabs (d[i].end - t0 - want[i].end) > 0.011)
      return 0;
  return 1;
}

static void
describe (char *buf, size_t size, const detection * d, int n)
{
  size_t at = 0;
  buf[0] = 0;
  for (int i = 0; i < n && at < size; i++)
    at += (size_t) snprintf (buf + at, size - at, "%s%s %.2f-%.2f", i ? ", " : "", d[i].word, d[i].start, d[i].end);
}

/* pass-through, messages and their times, EOS, latency, flushing seek */
static void
analysis_checks (void)
{
  char what[600], list[300];
  detection d[MAX_DET];
  GstBus *bus;
  GstHarness *h = make_harness ("", &bus);
  gst_harness_set_upstream_latency (h, 5 * GST_MSECOND);
  gst_harness_play (h);
  /* a segment starting at 10 s: buffers stamped from 10 s, stream time 10 s there, running time 0 */
  GstSegment seg;
  gst_segment_init (&seg, GST_FORMAT_TIME);
  seg.start = seg.time = seg.position = 10 * GST_SECOND;
  gst_harness_push_event (h, gst_event_new_segment (&seg));
  GstClockTime t0 = 10 * GST_SECOND;
  push_f32 (h, in, 0, n_in, t0);
  check (pulled_unchanged (h, in, n_in, t0), "audio passes through unchanged, timestamps kept");
  int before_eos = detections (bus, d, 0);
  gst_harness_push_event (h, gst_event_new_eos ());
  int n = before_eos + detections (bus, d, before_eos);
  describe (list, sizeof list, d, n);
  snprintf (what, sizeof what, "detections at the input's timestamps (+10 s) equal offline commands' (%s; %d of "
      "%d before EOS: the last, still running, is posted at EOS)", list, before_eos, n);
  check (same_detections (d, n, 10.0) && before_eos == n - 1, what);
  int times = n > 0;
  for (int i = 0; i < n; i++)
    times &= fabs (d[i].stream_time - d[i].start) < 1e-6 && fabs (d[i].running_time - (d[i].start - 10.0)) < 1e-6;
  check (times, "stream-time and running-time of each detection follow the segment (stream = buffer time, "
      "running = buffer time - 10 s)");
  check_latency (h, 1255 * GST_MSECOND, "latency query: upstream 5 ms + window 1 s + shift 250 ms");

  /* a flushing seek: the same audio from time 0 gives the same detections */
  flushing_seek (h);
  push_f32 (h, in, 0, n_in, 0);
  gst_harness_push_event (h, gst_event_new_eos ());
  n = detections (bus, d, 0);
  describe (list, sizeof list, d, n);
  snprintf (what, sizeof what, "after a flushing seek the spotter restarts: the same detections from 0 (%s)", list);
  check (same_detections (d, n, 0.0), what);
  gst_harness_teardown (h);
  gst_object_unref (bus);
}

/* threshold and window properties reach the spotter */
static void
property_checks (void)
{
  detection d[MAX_DET];
  GstBus *bus;
  GstHarness *h = make_harness ("threshold=1.0", &bus);
  gst_harness_play (h);
  push_f32 (h, in, 0, n_in, 0);
  gst_harness_push_event (h, gst_event_new_eos ());
  int n = detections (bus, d, 0);
  check (n == 0, "threshold=1.0: no window is that sure, no detections");
  gst_harness_teardown (h);
  gst_object_unref (bus);

  h = make_harness ("window-ms=800 shift-ms=100", &bus);
  gst_harness_set_upstream_latency (h, 0);
  gst_harness_play (h);
  push_f32 (h, in, 0, HARNESS_RATE, 0);
  check_latency (h, 900 * GST_MSECOND, "window-ms=800 shift-ms=100: latency 900 ms");
  gst_harness_teardown (h);
  gst_object_unref (bus);
}

int
main (int argc, char **argv)
{
  if (argc < 3 || (argc - 3) % 3)
    return 2;
  gst_init (NULL, NULL);
  model = argv[1];
  in = read_f32 (argv[2], &n_in);
  for (int i = 3; i + 2 < argc && n_want < MAX_DET; i += 3, n_want++) {
    g_strlcpy (want[n_want].word, argv[i], sizeof want[n_want].word);
    want[n_want].start = atof (argv[i + 1]);
    want[n_want].end = atof (argv[i + 2]);
  }
  if (!in)
    return 2;
  analysis_checks ();
  property_checks ();

  check_element_errors ("voxkws");
  free (in);
  gst_deinit ();
  return failures ? 1 : 0;
}
