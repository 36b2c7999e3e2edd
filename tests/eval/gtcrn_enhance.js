#!/usr/bin/env node
// gtcrn_enhance.js: the GTCRN peer for `make eval-denoise` - ../shared/data/models/gtcrn's streaming
// ONNX model in onnxruntime-node (from npm, via ../shared/anchors), one STFT frame per run with its
// caches, as upstream's stream/gtcrn_stream.py: 16 kHz, n_fft 512, hop 256, sqrt-Hann window,
// centred STFT (reflect padding 256), overlap-add synthesis.
//
//   node gtcrn_enhance.js MODEL.onnx IN.f32 OUT.f32      (raw float32 mono 16 kHz in and out)
// Prints "seconds S" (model runs and STFT, not loading) on stdout.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

const N = 512, HOP = 256, BINS = N / 2 + 1;

function fft(re, im) { // in place, radix 2
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) { [re[i], re[j]] = [re[j], re[i]]; [im[i], im[j]] = [im[j], im[i]]; }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = -2 * Math.PI / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < len / 2; k++) {
        const wr = Math.cos(ang * k), wi = Math.sin(ang * k);
        const ar = re[i + k + len / 2], ai = im[i + k + len / 2];
        const tr = ar * wr - ai * wi, ti = ar * wi + ai * wr;
        re[i + k + len / 2] = re[i + k] - tr; im[i + k + len / 2] = im[i + k] - ti;
        re[i + k] += tr; im[i + k] += ti;
      }
    }
  }
}

async function main() {
  const [modelPath, inPath, outPath] = process.argv.slice(2);
  const buf = fs.readFileSync(inPath);
  const x = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const L = x.length;
  const win = new Float64Array(N);
  for (let n = 0; n < N; n++) win[n] = Math.sqrt(0.5 - 0.5 * Math.cos(2 * Math.PI * n / N));
  const padded = new Float64Array(L + N);
  for (let i = 0; i < L + N; i++) {
    let j = i - N / 2;
    if (j < 0) j = -j; else if (j >= L) j = 2 * (L - 1) - j; // reflect
    padded[i] = x[Math.min(Math.max(j, 0), L - 1)];
  }
  const frames = Math.floor(L / HOP) + 1;
  const sess = await ort.InferenceSession.create(modelPath, {intraOpNumThreads: 1});
  let conv = new ort.Tensor('float32', new Float32Array(2 * 1 * 16 * 16 * 33), [2, 1, 16, 16, 33]);
  let tra = new ort.Tensor('float32', new Float32Array(2 * 3 * 1 * 1 * 16), [2, 3, 1, 1, 16]);
  let inter = new ort.Tensor('float32', new Float32Array(2 * 1 * 33 * 16), [2, 1, 33, 16]);
  const out = new Float64Array(L + N), norm = new Float64Array(L + N);
  const re = new Float64Array(N), im = new Float64Array(N);
  const t0 = process.hrtime.bigint();
  for (let t = 0; t < frames; t++) {
    for (let n = 0; n < N; n++) { re[n] = padded[t * HOP + n] * win[n]; im[n] = 0; }
    fft(re, im);
    const mix = new Float32Array(BINS * 2);
    for (let k = 0; k < BINS; k++) { mix[2 * k] = re[k]; mix[2 * k + 1] = im[k]; }
    const r = await sess.run({mix: new ort.Tensor('float32', mix, [1, BINS, 1, 2]), conv_cache: conv,
                              tra_cache: tra, inter_cache: inter});
    conv = r.conv_cache_out; tra = r.tra_cache_out; inter = r.inter_cache_out;
    const e = r.enh.data;
    for (let k = 0; k < BINS; k++) { re[k] = e[2 * k]; im[k] = -e[2 * k + 1]; } // conj: inverse via forward FFT
    for (let k = 1; k < BINS - 1; k++) { re[N - k] = re[k]; im[N - k] = -im[k]; }
    fft(re, im);
    for (let n = 0; n < N; n++) {
      out[t * HOP + n] += re[n] / N * win[n];
      norm[t * HOP + n] += win[n] * win[n];
    }
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const y = new Float32Array(L);
  for (let i = 0; i < L; i++) y[i] = out[i + N / 2] / Math.max(norm[i + N / 2], 1e-8);
  fs.writeFileSync(outPath, Buffer.from(y.buffer));
  console.log('seconds ' + secs.toFixed(4));
}
main().catch(e => { console.error(e.message || e); process.exit(1); });
