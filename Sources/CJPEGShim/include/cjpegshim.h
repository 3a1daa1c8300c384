#ifndef CJPEGSHIM_H
#define CJPEGSHIM_H

// A tiny C layer over libjpeg so that Swift never sees a longjmp: every libjpeg call runs inside setjmp here,
// and libjpeg's error_exit (which would otherwise call exit()) jumps back and the call returns an error message.

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// What the decoder found in the stream.
typedef struct cjpegshim_info {
    int width;
    int height;
    int components;
    int precision;
    /// libjpeg J_COLOR_SPACE of the stream as decoded (1 gray, 2 RGB, 3 YCbCr, ...).
    int jpeg_color_space;
    /// libjpeg J_COLOR_SPACE of the output samples.
    int out_color_space;
    int saw_jfif;
    int saw_adobe;
    /// Warnings other than extraneous bytes before a marker (truncated or corrupt entropy-coded data).
    int serious_warnings;
} cjpegshim_info;

/// Decodes an 8-bit JPEG (baseline or extended, Huffman or arithmetic) into `out`, which must hold exactly
/// width × height × components bytes. Three-component streams come out as RGB: a stream with an Adobe marker
/// follows its transform flag, one with a JFIF marker is YCbCr, otherwise `hint_ybr` (1 when the DICOM
/// Photometric Interpretation is YBR_*) decides between YCbCr and RGB.
/// Returns 0 on success; otherwise -1 with a message in `error`. A warning message is also left in `error`.
int cjpegshim_decode(const unsigned char *data, unsigned long size, int hint_ybr, int fancy_upsampling,
                     unsigned char *out, unsigned long out_size, cjpegshim_info *info,
                     char *error, size_t error_size);

/// Encodes 8-bit samples (1 or 3 components, colour-by-pixel) as baseline JPEG (process 1).
/// `input_ybr`: the samples are already YCbCr (else RGB, converted by libjpeg). Colour is stored YCbCr with the
/// chrominance subsampled horizontally by `horizontal_subsampling` (1 or 2; 2 = 4:2:2).
/// On success returns 0 and a malloc'd buffer in `*out` (free with cjpegshim_free).
int cjpegshim_encode(const unsigned char *pixels, int width, int height, int components, int input_ybr,
                     int quality, int horizontal_subsampling, unsigned char **out, unsigned long *out_size,
                     char *error, size_t error_size);

/// Frees a buffer returned by cjpegshim_encode.
void cjpegshim_free(unsigned char *buffer);

#ifdef __cplusplus
}
#endif

#endif
