/* sndfile_stdin.c - standard input through libsndfile, FLAC and MPEG pipes included (see vox_sndfile.h). */
#include "voxpipe/vox_sndfile.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* While libsndfile reads a header it may go back as far as the stream's start (MPEG: past an ID3 tag,
 * whose cover art can weigh megabytes); what it read is kept up to this much. */
#define KEEP_MAX (16 << 20)

struct vox_sndfile_stdin {
  int fd;
  sf_count_t pos;      /* where libsndfile reads next */
  sf_count_t consumed; /* bytes taken from fd */
  unsigned char *kept; /* the stream's bytes [base, base + len), replayed when libsndfile goes back */
  sf_count_t base, len, cap;
  int frozen; /* nothing more is kept: the header is read (or KEEP_MAX reached) */
};

static sf_count_t vio_length(void *user) {
  (void)user;
  return SF_COUNT_MAX; /* unknown, as libsndfile takes a pipe's length */
}

static sf_count_t vio_tell(void *user) { return ((vox_sndfile_stdin *)user)->pos; }

static int replayable(const vox_sndfile_stdin *s, sf_count_t at) { return at >= s->base && at < s->base + s->len; }

static sf_count_t vio_seek(sf_count_t offset, int whence, void *user) {
  vox_sndfile_stdin *s = user;
  sf_count_t to = whence == SEEK_SET ? offset : whence == SEEK_CUR ? s->pos + offset : -1;
  if (to < 0 || (to < s->consumed && !replayable(s, to))) /* gone: a pipe cannot go back further */
    return -1;
  s->pos = to;
  return to;
}

/* Appends bytes just read to the kept ones, growing them; past KEEP_MAX or without memory, stops. */
static void keep(vox_sndfile_stdin *s, const unsigned char *b, sf_count_t n) {
  if (s->frozen)
    return;
  if (s->len + n > s->cap) {
    sf_count_t cap = s->cap ? s->cap : 65536;
    while (cap < s->len + n)
      cap *= 2;
    unsigned char *grown = cap <= KEEP_MAX ? realloc(s->kept, (size_t)cap) : NULL;
    if (!grown) {
      s->frozen = 1;
      return;
    }
    s->kept = grown;
    s->cap = cap;
  }
  memcpy(s->kept + s->len, b, (size_t)n);
  s->len += n;
}

static sf_count_t vio_read(void *ptr, sf_count_t count, void *user) {
  vox_sndfile_stdin *s = user;
  unsigned char *out = ptr, skip[4096];
  sf_count_t done = 0;
  while (done < count) {
    if (s->pos < s->consumed) { /* replayed */
      if (!replayable(s, s->pos))
        break;
      sf_count_t n = s->base + s->len - s->pos;
      n = n < count - done ? n : count - done;
      memcpy(out + done, s->kept + (s->pos - s->base), (size_t)n);
      s->pos += n;
      done += n;
      continue;
    }
    /* bytes a forward seek passed over are read and dropped first */
    int skipping = s->pos > s->consumed;
    sf_count_t want = skipping ? s->pos - s->consumed : count - done;
    unsigned char *dst = skipping ? skip : out + done;
    if (skipping && want > (sf_count_t)sizeof skip)
      want = sizeof skip;
    ssize_t got = read(s->fd, dst, (size_t)want);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      break;
    keep(s, dst, got);
    s->consumed += got;
    if (!skipping) {
      s->pos += got;
      done += got;
    }
  }
  return done;
}

/* Once the header is read libsndfile reads on in order: only the bytes it has yet to read again stay. */
static void header_done(vox_sndfile_stdin *s) {
  s->frozen = 1;
  if (!replayable(s, s->pos)) {
    free(s->kept);
    s->kept = NULL;
    s->base = s->consumed;
    s->len = s->cap = 0;
    return;
  }
  sf_count_t drop = s->pos - s->base;
  memmove(s->kept, s->kept + drop, (size_t)(s->len - drop));
  s->base += drop;
  s->len -= drop;
}

/* Up to n of the first bytes of pipe or socket fd, without taking them from it (tee(2) copies what a
 * pipe holds into a pipe of our own; a socket is peeked at); waits for n bytes while the writer is
 * there. Returns how many it got (fewer at the end of a short input, 0 on error). */
static size_t peek(int fd, int is_pipe, unsigned char *head, size_t n) {
  if (!is_pipe) {
    ssize_t k;
    while ((k = recv(fd, head, n, MSG_PEEK | MSG_WAITALL)) < 0 && errno == EINTR)
      ;
    return k > 0 ? (size_t)k : 0;
  }
  int p[2];
  if (pipe2(p, O_CLOEXEC))
    return 0;
  size_t got = 0;
  for (;;) {
    ssize_t k = tee(fd, p[1], n, 0);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0 || read(p[0], head, (size_t)k) != k) /* end of input, or an error */
      break;
    got = (size_t)k;
    struct pollfd q = {.fd = fd, .events = POLLIN};
    if (got == n || (poll(&q, 1, 0) == 1 && (q.revents & POLLHUP)))
      break;
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  }
  close(p[0]);
  close(p[1]);
  return got;
}

/* Whether libsndfile's own pipe reading is right for a stream that starts with these bytes: WAV
 * (RIFF, RIFX, RF64), AIFF, AU and Ogg, whose headers it reads in order and whose declared lengths
 * it must not seek past. FLAC fails there (its sniffed bytes never reach the decoder) and MPEG
 * over-reads libsndfile's header buffer (found by the audio fuzz target; libsndfile 1.2.0): those
 * and the rest go through the replaying virtual I/O. */
static int native_pipe_format(const unsigned char *h, size_t n) {
  static const char *const magic[] = {"RIFF", "RIFX", "RF64", "FORM", ".snd", "OggS"};
  for (size_t i = 0; n >= 4 && i < sizeof magic / sizeof *magic; i++)
    if (!memcmp(h, magic[i], 4))
      return 1;
  return 0;
}

SNDFILE *vox_sndfile_open_stdin(SF_INFO *info, vox_sndfile_stdin **state) {
  *state = NULL;
  struct stat st;
  int stream = fstat(STDIN_FILENO, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
  unsigned char head[12];
  size_t n = stream && !info->format ? peek(STDIN_FILENO, S_ISFIFO(st.st_mode), head, sizeof head) : 0;
  if (!stream || info->format || n < 4 || native_pipe_format(head, n)) {
    SNDFILE *sf = sf_open_fd(STDIN_FILENO, SFM_READ, info, 0);
    if (sf && stream) {
      info->seekable = 0;
      info->frames = SF_COUNT_MAX; /* a pipe's WAV declares a placeholder */
    }
    return sf;
  }
  vox_sndfile_stdin *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->fd = STDIN_FILENO;
  SF_VIRTUAL_IO vio = {.get_filelen = vio_length, .seek = vio_seek, .read = vio_read, .tell = vio_tell};
  SNDFILE *sf = sf_open_virtual(&vio, SFM_READ, info, s);
  if (!sf) {
    free(s->kept);
    free(s);
    return NULL;
  }
  header_done(s);
  info->seekable = 0;
  if ((info->format & SF_FORMAT_TYPEMASK) != SF_FORMAT_FLAC) /* an MP3's count is an estimate */
    info->frames = SF_COUNT_MAX;
  *state = s;
  return sf;
}

void vox_sndfile_stdin_close(SNDFILE *sf, vox_sndfile_stdin *state) {
  if (sf)
    sf_close(sf);
  if (state)
    free(state->kept);
  free(state);
}
