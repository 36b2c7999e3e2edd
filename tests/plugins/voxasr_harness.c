/* voxasr_harness.c - GstHarness checks of the voxasr element (run by test_voxasr.py).
 *
 *   voxasr_harness MODEL.nemo SAMPLES.f32 CYCLES
 * Prints "ok   ..." / "FAIL ..." lines; exit status 1 when any check failed. */
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_check.h"
#include "../tools/rss.h"


static float *samples;
static size_t n_samples;
static const char *model;

static GstHarness *
make_harness (GstBus ** bus)
{
  /* properties in the description: gst_harness_new() would start the element (and load the default
   * model) before a later g_object_set could change it */
  return harness_with_bus ("voxasr", model, "endpoint-silence-ms=300", bus);
}

/* Pushes the sample in 100 ms buffers with timestamps from `offset`; returns buffers that came out
 * byte-identical to what went in. */
static int
push_all (GstHarness * h, GstClockTime offset)
{
  int same = 0, pushed = 0;
  for (size_t i = 0; i < n_samples; i += 1600) {
    size_t k = n_samples - i < 1600 ? n_samples - i : 1600;
    GstBuffer *in = gst_buffer_new_memdup (samples + i, k * sizeof (float));
    GST_BUFFER_PTS (in) = offset + gst_util_uint64_scale_int (i, GST_SECOND, 16000);
    GST_BUFFER_DURATION (in) = gst_util_uint64_scale_int (k, GST_SECOND, 16000);
    gst_harness_push (h, in);
    GstBuffer *out = gst_harness_pull (h);
    GstMapInfo m;
    gst_buffer_map (out, &m, GST_MAP_READ);
    same += m.size == k * sizeof (float) && !memcmp (m.data, samples + i, m.size);
    gst_buffer_unmap (out, &m);
    gst_buffer_unref (out);
    pushed++;
  }
  return same == pushed;
}

/* Collects voxasr messages: the finals' text joined, count of messages, first start time. */
static int
drain_bus (GstBus * bus, GString * finals, GstClockTime * first_start)
{
  int n = 0;
  GstMessage *msg;
  *first_start = GST_CLOCK_TIME_NONE;
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    const GstStructure *s = gst_message_get_structure (msg);
    if (gst_structure_has_name (s, "voxasr")) {
      gboolean final;
      guint64 start;
      gst_structure_get_boolean (s, "is-final", &final);
      gst_structure_get_uint64 (s, "start", &start);
      if (!GST_CLOCK_TIME_IS_VALID (*first_start))
        *first_start = start;
      if (final)
        g_string_append_printf (finals, "%s%s", finals->len ? " " : "",
            gst_structure_get_string (s, "text"));
      n++;
    }
    gst_message_unref (msg);
  }
  return n;
}

typedef struct
{
  GString *text;
} par_arg;

static void *
run_pipeline (void *arg)
{
  par_arg *a = arg;
  GstBus *bus;
  GstClockTime first;
  GstHarness *h = make_harness (&bus);
  push_all (h, 0);
  gst_harness_push_event (h, gst_event_new_eos ());
  drain_bus (bus, a->text, &first);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  return NULL;
}

int
main (int argc, char **argv)
{
  if (argc < 4)
    return 2;
  gst_init (NULL, NULL);
  model = argv[1];
  if (!(samples = read_f32 (argv[2], &n_samples)))
    return 2;
  int cycles = atoi (argv[3]);

  /* pass-through, messages, EOS flush, timestamps offset by the segment */
  GstBus *bus;
  GstHarness *h = make_harness (&bus);
  gst_harness_set_upstream_latency (h, 5 * GST_MSECOND);
  GstClockTime min = 0;
  gst_harness_play (h);
  check (push_all (h, 0), "audio passes through unchanged (every buffer byte-identical)");
  gst_harness_push_event (h, gst_event_new_eos ());
  GString *first_run = g_string_new (NULL);
  GstClockTime start0;
  int n = drain_bus (bus, first_run, &start0);
  check (n > 0 && first_run->len > 0, "voxasr messages posted, final text flushed at EOS");
  min = gst_harness_query_latency (h);
  check (min >= 5 * GST_MSECOND + 220 * GST_MSECOND && min < 5 * GST_MSECOND + 2 * GST_SECOND,
      "latency query: upstream 5 ms + the element's own look-ahead");
  gst_harness_teardown (h);
  gst_object_unref (bus);

  /* a flushing seek (FLUSH_START/STOP) resets the recognizer: the same audio gives the same text */
  h = make_harness (&bus);
  push_all (h, 0);
  flushing_seek (h);
  GString *ignored = g_string_new (NULL);
  GstClockTime s_ignored;
  drain_bus (bus, ignored, &s_ignored);
  push_all (h, 0);
  gst_harness_push_event (h, gst_event_new_eos ());
  GString *after_flush = g_string_new (NULL);
  GstClockTime start1;
  drain_bus (bus, after_flush, &start1);
  check (!strcmp (after_flush->str, first_run->str),
      "after a flush the same audio gives the same final text");
  gst_harness_teardown (h);
  gst_object_unref (bus);

  /* timestamps: the same audio starting at 10 s gives words 10 s later */
  h = make_harness (&bus);
  push_all (h, 10 * GST_SECOND);
  gst_harness_push_event (h, gst_event_new_eos ());
  GString *shifted = g_string_new (NULL);
  GstClockTime start2;
  drain_bus (bus, shifted, &start2);
  check (GST_CLOCK_TIME_IS_VALID (start2) && GST_CLOCK_TIME_IS_VALID (start0)
      && start2 == start0 + 10 * GST_SECOND,
      "message times follow the buffer timestamps (+10 s)");
  gst_harness_teardown (h);
  gst_object_unref (bus);

  /* two pipelines in parallel threads */
  pthread_t th[2];
  par_arg pa[2] = { {g_string_new (NULL)}, {g_string_new (NULL)} };
  for (int i = 0; i < 2; i++)
    pthread_create (&th[i], NULL, run_pipeline, &pa[i]);
  for (int i = 0; i < 2; i++)
    pthread_join (th[i], NULL);
  check (!strcmp (pa[0].text->str, first_run->str) && !strcmp (pa[1].text->str, first_run->str),
      "two pipelines in parallel threads give the single-pipeline text");

  /* NULL -> PLAYING -> NULL cycles without memory growth */
  GstElement *e = gst_element_factory_make ("voxasr", NULL);
  g_object_set (e, "model", model, NULL);
  long before = 0;
  int state_ok = 1;
  for (int i = 0; i < cycles; i++) {
    state_ok &= gst_element_set_state (e, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE;
    state_ok &= gst_element_set_state (e, GST_STATE_NULL) == GST_STATE_CHANGE_SUCCESS;
    if (i == cycles / 10)
      before = rss_kb ();
  }
  long after = rss_kb ();
  char what[200];
  snprintf (what, sizeof what,
      "%d NULL->PLAYING->NULL cycles: RSS %ld kB after warm-up, %ld kB at the end (growth < 1024 kB)",
      cycles, before, after);
  if (g_getenv ("VOX_SANITIZE")) {
    /* ASan keeps freed blocks in quarantine, so RSS says nothing there; `make check` measures it */
    check (state_ok, "NULL->PLAYING->NULL cycles (RSS not measured under ASan)");
  } else
    check (state_ok && after - before < 1024, what);
  gst_object_unref (e);
  check_element_errors ("voxasr");
  return failures ? 1 : 0;
}
