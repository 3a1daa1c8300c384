// Standalone reproducer for findings/openjpeg-stream-overread.j2k (see README.md, Findings).
//
// Reads a J2K codestream (or, with JP2=1, a JP2 file) through an OpenJPEG memory stream whose callbacks mirror
// Sources/DICOMCodecs/OpenJPEGStreams.swift, with the decoder set up as OpenJPEGDecoder does (strict mode).
//   BUG=1    the read callback returns INT64_MAX at the end of the data, which is what `OPJ_SIZE_T.max` was in
//            Swift (size_t is imported as Int): OpenJPEG takes it as a byte count and reads past its stream buffer.
//   DECODE=1 decodes the image after the header.   TRACE=1 prints every callback and OpenJPEG message.
//
//   clang -fsanitize=address -g -I/usr/include/openjpeg-2.5 repro_openjpeg_stream.c -lopenjp2 -o repro
#include <openjpeg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const unsigned char *bytes;
    size_t count, offset;
} reader_t;

static int trace, bug;

static OPJ_SIZE_T read_fn(void *buffer, OPJ_SIZE_T count, void *user) {
    reader_t *r = user;
    size_t remaining = r->count - r->offset;
    if (trace) fprintf(stderr, "read %zu at %zu -> ", (size_t)count, r->offset);
    if (remaining == 0) {
        if (trace) fprintf(stderr, "end\n");
        return bug ? (OPJ_SIZE_T)INT64_MAX : (OPJ_SIZE_T)-1;
    }
    size_t n = count < remaining ? count : remaining;
    memcpy(buffer, r->bytes + r->offset, n);
    r->offset += n;
    if (trace) fprintf(stderr, "%zu\n", n);
    return n;
}

static OPJ_OFF_T skip_fn(OPJ_OFF_T count, void *user) {
    reader_t *r = user;
    long long target = (long long)r->offset + count;
    if (trace) fprintf(stderr, "skip %lld at %zu\n", (long long)count, r->offset);
    if (target < 0) return -1;
    if ((size_t)target > r->count) target = (long long)r->count;
    long long moved = target - (long long)r->offset;
    if (moved == 0 && count != 0) return -1;
    r->offset = (size_t)target;
    return moved;
}

static OPJ_BOOL seek_fn(OPJ_OFF_T position, void *user) {
    reader_t *r = user;
    if (trace) fprintf(stderr, "seek %lld\n", (long long)position);
    if (position < 0 || (size_t)position > r->count) return OPJ_FALSE;
    r->offset = (size_t)position;
    return OPJ_TRUE;
}

static void message(const char *text, void *kind) {
    if (trace) fprintf(stderr, "%s: %s", (const char *)kind, text);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    trace = getenv("TRACE") != NULL;
    bug = getenv("BUG") != NULL;
    FILE *file = fopen(argv[1], "rb");
    if (!file) {
        perror(argv[1]);
        return 2;
    }
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    if (size <= 0) {
        fprintf(stderr, "%s: empty\n", argv[1]);
        return 2;
    }
    unsigned char *bytes = malloc((size_t)size);
    if (!bytes || fread(bytes, 1, (size_t)size, file) != (size_t)size) {
        fprintf(stderr, "%s: cannot read\n", argv[1]);
        return 2;
    }
    fclose(file);
    reader_t reader = {bytes, (size_t)size, 0};

    opj_codec_t *codec = opj_create_decompress(getenv("JP2") ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K);
    opj_set_error_handler(codec, message, "error");
    opj_set_warning_handler(codec, message, "warning");
    opj_set_info_handler(codec, message, "info");
    opj_stream_t *stream = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE);
    opj_stream_set_user_data(stream, &reader, NULL);
    opj_stream_set_user_data_length(stream, (OPJ_UINT64)size);
    opj_stream_set_read_function(stream, read_fn);
    opj_stream_set_skip_function(stream, skip_fn);
    opj_stream_set_seek_function(stream, seek_fn);
    opj_dparameters_t parameters;
    opj_set_default_decoder_parameters(&parameters);
    opj_setup_decoder(codec, &parameters);
    opj_decoder_set_strict_mode(codec, OPJ_TRUE);

    opj_image_t *image = NULL;
    int ok = opj_read_header(stream, codec, &image);
    printf("read_header: %s\n", ok ? "ok" : "failed");
    if (ok && getenv("DECODE")) {
        ok = opj_decode(codec, stream, image) && opj_end_decompress(codec, stream);
        printf("decode: %s\n", ok ? "ok" : "failed");
    }
    if (image) opj_image_destroy(image);
    opj_stream_destroy(stream);
    opj_destroy_codec(codec);
    free(bytes);
    return 0;
}
