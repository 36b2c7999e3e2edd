/* voxsoak - many recognizer streams on one shared model, in parallel threads, for a long time, with
 * the process's RSS sampled (the soak half of tests/plugins/test_soak.py; `make soak` runs an hour).
 *
 *   voxsoak MODEL AUDIO.f32 THREADS SECONDS
 *
 * Each thread streams AUDIO (16 kHz float samples) again and again in 100 ms pushes until it has
 * pushed SECONDS of audio, handing over and forgetting its words at every end of the loop (as a
 * long-running application does after each final). The main thread samples RSS every 50 ms and
 * prints one line:
 *   soak THREADS SECONDS rss-warm KB rss-max-after KB words N
 * where rss-warm is the RSS when every thread has pushed 20 % of its audio and rss-max-after the
 * largest RSS seen after that. Exit 1 on any error or if a thread's text differs between loops. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "voxpipe/voxpipe.h"

#include "rss.h"

#define PUSH 1600
#define MAX_THREADS 64

typedef struct job {
  const vox_model *m;
  const float *x;
  size_t n, total;
  atomic_size_t pushed;
  size_t words;
  char first[4096];
  int failed;
} job;

static void *run(void *arg) {
  job *j = arg;
  vox_error err = {0};
  vox_asr_stream *s;
  if (vox_asr_stream_new(j->m, NULL, &s, &err)) {
    fprintf(stderr, "voxsoak: %s\n", err.message);
    j->failed = 1;
    return NULL;
  }
  for (int loop = 0; atomic_load(&j->pushed) < j->total && !j->failed; loop++) {
    for (size_t i = 0; i < j->n && !j->failed; i += PUSH) {
      size_t k = j->n - i < PUSH ? j->n - i : PUSH;
      j->failed |= vox_asr_stream_accept(s, j->x + i, k, &err) != VOX_OK;
      atomic_fetch_add(&j->pushed, k);
    }
    /* the loop ends in silence: what is stable now is the loop's text; hand it over and forget it */
    vox_transcript t;
    vox_asr_stream_result(s, &t);
    char text[4096] = "";
    for (size_t w = 0, o = 0; w < t.n_stable_words && o + 1 < sizeof text; w++)
      o += (size_t)snprintf(text + o, sizeof text - o, "%s%s", w ? " " : "", t.words[w].text);
    j->words += vox_asr_stream_forget_words(s, t.n_stable_words);
    if (loop == 1)
      snprintf(j->first, sizeof j->first, "%s", text);
    else if (loop > 1 && strcmp(text, j->first)) {
      fprintf(stderr, "voxsoak: loop %d gave \"%s\", loop 1 \"%s\"\n", loop, text, j->first);
      j->failed = 1;
    }
  }
  if (j->failed && err.message[0])
    fprintf(stderr, "voxsoak: %s\n", err.message);
  vox_asr_stream_free(s);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: voxsoak MODEL AUDIO.f32 THREADS SECONDS\n");
    return 2;
  }
  int nt = atoi(argv[3]);
  double seconds = atof(argv[4]);
  vox_error err = {0};
  vox_model *m;
  if (nt < 1 || nt > MAX_THREADS || !(seconds > 0) || vox_model_load(argv[1], NULL, &m, &err)) {
    fprintf(stderr, "voxsoak: %s\n", err.message[0] ? err.message : "bad arguments");
    return 2;
  }
  FILE *f = fopen(argv[2], "rb");
  float *x = NULL;
  size_t n = 0;
  if (f && !fseek(f, 0, SEEK_END) && ftell(f) > 0) {
    n = (size_t)ftell(f) / sizeof(float);
    x = malloc(n * sizeof *x);
    rewind(f);
    if (x && fread(x, sizeof *x, n, f) != n)
      n = 0;
  }
  if (f)
    fclose(f);
  if (!x || !n) {
    fprintf(stderr, "voxsoak: cannot read %s\n", argv[2]);
    return 2;
  }
  job *jobs = calloc((size_t)nt, sizeof *jobs);
  pthread_t th[MAX_THREADS];
  for (int i = 0; i < nt; i++) {
    jobs[i] = (job){.m = m, .x = x, .n = n, .total = (size_t)(seconds * 16000)};
    pthread_create(&th[i], NULL, run, &jobs[i]);
  }
  long warm = 0, max_after = 0;
  for (;;) {
    size_t least = (size_t)-1;
    for (int i = 0; i < nt; i++) {
      size_t p = atomic_load(&jobs[i].pushed);
      least = p < least ? p : least;
    }
    long r = rss_kb();
    if (!warm && least >= jobs[0].total / 5)
      warm = r;
    else if (warm && r > max_after)
      max_after = r;
    if (least >= jobs[0].total)
      break;
    int failed = 0;
    for (int i = 0; i < nt; i++)
      failed |= jobs[i].failed;
    if (failed)
      break;
    nanosleep(&(struct timespec){0, 50000000}, NULL);
  }
  int bad = 0;
  size_t words = 0;
  for (int i = 0; i < nt; i++) {
    pthread_join(th[i], NULL);
    bad |= jobs[i].failed || strcmp(jobs[i].first, jobs[0].first);
    words += jobs[i].words;
  }
  printf("soak %d %.0f rss-warm %ld rss-max-after %ld words %zu\n", nt, seconds, warm, max_after, words);
  free(jobs);
  free(x);
  vox_model_free(m);
  return bad;
}
