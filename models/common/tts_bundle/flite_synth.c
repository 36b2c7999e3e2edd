/* flite_synth VOICE STRETCH OUT.wav < text : flite with only the voices we train on linked */
#include <flite/flite.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
cst_voice *register_cmu_us_kal16(const char *);
cst_voice *register_cmu_us_awb(const char *);
cst_voice *register_cmu_us_slt(const char *);
int main(int argc, char **argv) {
    if (argc != 4) return 2;
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, stdin);
    text[n] = 0;
    flite_init();
    cst_voice *v = NULL;
    if (!strcmp(argv[1], "kal16")) v = register_cmu_us_kal16(NULL);
    else if (!strcmp(argv[1], "awb")) v = register_cmu_us_awb(NULL);
    else if (!strcmp(argv[1], "slt")) v = register_cmu_us_slt(NULL);
    if (!v) return 3;
    flite_feat_set_float(v->features, "duration_stretch", (float)atof(argv[2]));
    flite_text_to_speech(text, v, argv[3]);
    return 0;
}
