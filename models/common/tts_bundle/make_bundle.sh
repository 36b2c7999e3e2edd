#!/bin/sh
# make_bundle.sh OUTDIR - espeak-ng and flite (with the training voices only) as a directory that
# runs on a machine without the Debian packages (a GPU training machine, whose image has neither):
#   VOX_TTS_BUNDLE=OUTDIR /usr/bin/python3 models/common/corpus.py ... there.
# Needs here: espeak-ng, flite, flite1-dev (headers), gcc. OUTDIR gets bin/ (espeak-ng, flite_synth),
# lib/ (their shared libraries, libpcaudio replaced by a stub: the corpus only writes files) and
# espeak-ng-data/ (English only).
set -e
out=${1:?usage: make_bundle.sh OUTDIR}
here=$(dirname "$0")
lib=/usr/lib/x86_64-linux-gnu
mkdir -p "$out/bin" "$out/lib" "$out/espeak-ng-data/lang/gmw" "$out/espeak-ng-data/voices"
gcc -O2 -o "$out/bin/flite_synth" "$here/flite_synth.c" -lflite_cmu_us_kal16 -lflite_cmu_us_awb -lflite_cmu_us_slt \
    -lflite_usenglish -lflite_cmulex -lflite -lm -Wl,-rpath,'$ORIGIN/../lib'
gcc -O2 -shared -fPIC -o "$out/lib/libpcaudio.so.0" "$here/pcaudio_stub.c" -Wl,-soname,libpcaudio.so.0
cp "$(command -v espeak-ng)" "$out/bin/"
for l in libespeak-ng.so.1 libsonic.so.0 libflite.so.1 libflite_usenglish.so.1 libflite_cmulex.so.1 \
         libflite_cmu_us_kal16.so.1 libflite_cmu_us_awb.so.1 libflite_cmu_us_slt.so.1 libasound.so.2; do
  cp -L "$lib/$l" "$out/lib/"
done
d=$lib/espeak-ng-data
cp -r "$d/en_dict" "$d/phondata" "$d/phontab" "$d/phonindex" "$d/intonations" "$d/phondata-manifest" "$out/espeak-ng-data/"
cp -r "$d"/lang/gmw/en* "$out/espeak-ng-data/lang/gmw/"
cp -r "$d/voices/!v" "$out/espeak-ng-data/voices/"
echo "bundle in $out ($(du -sh "$out" | cut -f1))"
