/* lm_sphinx_layout.c - checks a CMU Sphinx trie binary LM's layout before sphinxbase reads it.
 *
 * sphinxbase's reader trusts the file: it ignores short reads and runs strlen over the vocabulary
 * block, so a truncated or padded file makes it read past its buffers. The layout (sphinxbase 5's
 * ngram_model_trie / lm_trie writers) is fully determined by the header's counts:
 *   "Trie Language Model" | uint8 order | uint32 counts[order] | int32 quant type |
 *   quantiser tables | (counts[0] + 1) unigrams of 12 bytes | bit-packed middle and longest arrays |
 *   int32 k | k bytes of words, each NUL-terminated, counts[0] of them.
 * so the file's size, the vocabulary block's length and its word count must all agree. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lm_internal.h"

#define TRIE_MAGIC "Trie Language Model"
#define QUANT_16 1
#define QUANT_16_BITS 16
#define QUANT_16_TABLE (65536u * 4u) /* one float per 16-bit code */
#define UNIGRAM_BYTES 12u            /* float prob, float backoff, uint32 next */

static unsigned required_bits(uint64_t max) {
  unsigned r = 0;
  while (r < 64 && (max >> r))
    r++;
  return r;
}

/* Bytes of one bit-packed array: entries + 1 records of (word index, remaining) bits, plus the
 * 8 bytes of slack the reader relies on. */
static uint64_t packed_bytes(uint64_t entries, uint64_t vocab, unsigned remaining_bits) {
  return ((1 + entries) * (required_bits(vocab) + remaining_bits) + 7) / 8 + 8;
}

vox_status vox__lm_sphinx_check(const char *path, vox_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return vox_error_set(err, VOX_ERR_NOT_FOUND, "%s: cannot open the language model", path);
  unsigned char head[sizeof TRIE_MAGIC - 1 + 1 + 4 * VOX_LM_MAX_ORDER + 4];
  vox_status st = VOX_OK;
  char *words = NULL;
  size_t magic = sizeof TRIE_MAGIC - 1, got = fread(head, 1, sizeof head, f);
  if (got < magic + 1 || memcmp(head, TRIE_MAGIC, magic)) {
    st = vox_error_set(err, VOX_ERR_UNSUPPORTED,
                       "%s: only the trie binary format of CMU Sphinx LMs is read (convert it to ARPA or with "
                       "sphinx_lm_convert)", path);
    goto out;
  }
  int order = head[magic];
  if (order < 2 || order > VOX_LM_MAX_ORDER || got < magic + 1 + 4 * (size_t)order + 4) {
    st = vox_error_set(err, VOX_ERR_FORMAT, "%s: binary LM of order %d (2..%d readable) or truncated header", path,
                       order, VOX_LM_MAX_ORDER);
    goto out;
  }
  uint64_t counts[VOX_LM_MAX_ORDER];
  for (int i = 0; i < order; i++) {
    uint32_t c;
    memcpy(&c, head + magic + 1 + 4 * i, 4);
    counts[i] = c;
  }
  int32_t quant;
  memcpy(&quant, head + magic + 1 + 4 * order, 4);
  if (quant != QUANT_16 || counts[0] == 0) {
    st = vox_error_set(err, VOX_ERR_UNSUPPORTED, "%s: binary LM with quantisation %d and %llu words (voxpipe reads "
                       "16-bit quantised trie models with a vocabulary)", path, (int)quant,
                       (unsigned long long)counts[0]);
    goto out;
  }
  /* every count is below 2^32, so none of these sums can overflow 64 bits */
  uint64_t at = magic + 1 + 4 * (uint64_t)order + 4;
  at += (uint64_t)(2 * (order - 2) + 1) * QUANT_16_TABLE + (counts[0] + 1) * UNIGRAM_BYTES;
  for (int i = 1; i < order - 1; i++)
    at += packed_bytes(counts[i], counts[0], 2 * QUANT_16_BITS + required_bits(counts[i + 1]));
  at += packed_bytes(counts[order - 1], counts[0], QUANT_16_BITS);
  int32_t k = -1;
  if (fseek(f, 0, SEEK_END) || ftell(f) < 0) {
    st = vox_error_set(err, VOX_ERR_IO, "%s: cannot seek in the language model", path);
    goto out;
  }
  uint64_t size = (uint64_t)ftell(f);
  if (size < at + 4 || fseek(f, (long)at, SEEK_SET) || fread(&k, 4, 1, f) != 1 || k <= 0 ||
      (uint64_t)k != size - at - 4) {
    st = vox_error_set(err, VOX_ERR_FORMAT, "%s: truncated or corrupt binary language model (%llu bytes; its "
                       "counts need %llu before the vocabulary, which should fill the rest)", path,
                       (unsigned long long)size, (unsigned long long)at + 4);
    goto out;
  }
  words = malloc((size_t)k);
  if (!words) {
    st = vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
    goto out;
  }
  uint64_t n = 0;
  int empty = 0;
  if (fread(words, 1, (size_t)k, f) == (size_t)k)
    for (int32_t i = 0; i < k; i++)
      if (!words[i]) {
        empty |= i == 0 || !words[i - 1];
        n++;
      }
  if (n != counts[0] || words[k - 1] || empty)
    st = vox_error_set(err, VOX_ERR_FORMAT, "%s: corrupt binary language model (its vocabulary block holds %llu "
                       "words, the header says %llu)", path, (unsigned long long)n, (unsigned long long)counts[0]);
out:
  free(words);
  fclose(f);
  return st;
}
