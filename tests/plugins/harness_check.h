/* harness_check.h - what the GstHarness test programs share: their "ok   ..." / "FAIL ..." lines,
 * reading their float input files, pushing 16 kHz float audio and checking it passed through. */
#ifndef VOX_HARNESS_CHECK_H
#define VOX_HARNESS_CHECK_H

#include <gst/check/gstharness.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HARNESS_RATE 16000
#define HARNESS_BLOCK 1600

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

/* A harness around `FACTORY model="MODEL" PROPS` fed 16 kHz mono F32, with its own bus (*bus, to
 * unref after gst_harness_teardown) so that the element's messages can be read. */
static inline GstHarness *
harness_with_bus (const char *factory, const char *model, const char *props, GstBus ** bus)
{
  gchar *desc = g_strdup_printf ("%s model=\"%s\" %s", factory, model, props);
  GstHarness *h = gst_harness_new_parse (desc);
  g_free (desc);
  *bus = gst_bus_new ();
  gst_element_set_bus (h->element, *bus);
  gst_harness_set_src_caps_str (h, "audio/x-raw,format=F32LE,layout=interleaved,rate=16000,channels=1");
  return h;
}

/* Pushes samples [from, to) of x (16 kHz mono F32) in 100 ms buffers, sample i stamped
 * t0 + i / 16000 s. */
static inline void
push_f32 (GstHarness * h, const float *x, size_t from, size_t to, GstClockTime t0)
{
  for (size_t i = from; i < to; i += HARNESS_BLOCK) {
    size_t k = to - i < HARNESS_BLOCK ? to - i : HARNESS_BLOCK;
    GstBuffer *b = gst_buffer_new_memdup (x + i, k * sizeof (float));
    GST_BUFFER_PTS (b) = t0 + gst_util_uint64_scale (i, GST_SECOND, HARNESS_RATE);
    GST_BUFFER_DURATION (b) = gst_util_uint64_scale (k, GST_SECOND, HARNESS_RATE);
    gst_harness_push (h, b);
  }
}

/* Pulls every output buffer; true when together they are x[0, n) byte for byte, each stamped as
 * push_f32 stamped its first sample. */
static inline int
pulled_unchanged (GstHarness * h, const float *x, size_t n, GstClockTime t0)
{
  int same = 1;
  size_t at = 0;
  for (GstBuffer * b; (b = gst_harness_try_pull (h));) {
    GstMapInfo map;
    gst_buffer_map (b, &map, GST_MAP_READ);
    same &= GST_BUFFER_PTS (b) == t0 + gst_util_uint64_scale (at, GST_SECOND, HARNESS_RATE)
        && at + map.size / sizeof (float) <= n && !memcmp (map.data, x + at, map.size);
    at += map.size / sizeof (float);
    gst_buffer_unmap (b, &map);
    gst_buffer_unref (b);
  }
  return same && at == n;
}

/* The element's answer to a latency query is exactly `want`. */
static inline void
check_latency (GstHarness * h, GstClockTime want, const char *what)
{
  char line[300];
  GstClockTime lat = gst_harness_query_latency (h);
  snprintf (line, sizeof line, "%s (%" GST_TIME_FORMAT ")", what, GST_TIME_ARGS (lat));
  check (lat == want, line);
}

/* What a flushing seek sends: FLUSH_START, FLUSH_STOP and a new time segment from 0. */
static inline void
flushing_seek (GstHarness * h)
{
  GstSegment seg;
  gst_harness_push_event (h, gst_event_new_flush_start ());
  gst_harness_push_event (h, gst_event_new_flush_stop (TRUE));
  gst_segment_init (&seg, GST_FORMAT_TIME);
  gst_harness_push_event (h, gst_event_new_segment (&seg));
}

/* The errors every voxpipe element reports: a missing model fails the state change (the element
 * posts an error naming it), and 8-bit audio is refused at negotiation. */
static inline void
check_element_errors (const char *factory)
{
  char what[200];
  GstElement *e = gst_element_factory_make (factory, NULL);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  g_object_set (e, "model", "/nonexistent/model.nemo", NULL);
  int failed = gst_element_set_state (e, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE;
  GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  gchar *dbg = NULL;
  if (m)
    gst_message_parse_error (m, NULL, &dbg);
  snprintf (what, sizeof what, "%s: a missing model fails the state change with an error naming the file", factory);
  check (failed && dbg && strstr (dbg, "/nonexistent/model.nemo"), what);
  g_free (dbg);
  if (m)
    gst_message_unref (m);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
  gst_object_unref (bus);

  GstHarness *h = gst_harness_new (factory);
  gst_harness_set_src_caps_str (h, "audio/x-raw,format=U8,layout=interleaved,rate=16000,channels=1");
  snprintf (what, sizeof what, "%s: U8 audio refused at negotiation", factory);
  check (gst_harness_push (h, gst_buffer_new_allocate (NULL, 160, NULL)) == GST_FLOW_NOT_NEGOTIATED, what);
  gst_harness_teardown (h);
}

#endif
