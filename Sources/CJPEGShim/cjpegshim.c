#include "cjpegshim.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct shim_error_manager {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char *message;
    size_t message_size;
    int serious_warnings;
} shim_error_manager;

static void shim_error_exit(j_common_ptr cinfo) {
    shim_error_manager *manager = (shim_error_manager *)cinfo->err;
    if (manager->message && manager->message_size > 0) {
        char buffer[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)(cinfo, buffer);
        snprintf(manager->message, manager->message_size, "%s", buffer);
    }
    longjmp(manager->jump, 1);
}

static void shim_emit_message(j_common_ptr cinfo, int level) {
    shim_error_manager *manager = (shim_error_manager *)cinfo->err;
    if (level >= 0) return; // trace messages
    cinfo->err->num_warnings++;
    if (cinfo->err->msg_code == JWRN_EXTRANEOUS_DATA) return;
    if (manager->serious_warnings == 0 && manager->message && manager->message_size > 0) {
        char buffer[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)(cinfo, buffer);
        snprintf(manager->message, manager->message_size, "%s", buffer);
    }
    manager->serious_warnings++;
}

static void shim_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void shim_install(shim_error_manager *manager, char *error, size_t error_size) {
    jpeg_std_error(&manager->pub);
    manager->pub.error_exit = shim_error_exit;
    manager->pub.emit_message = shim_emit_message;
    manager->pub.output_message = shim_output_message;
    manager->message = error;
    manager->message_size = error_size;
    manager->serious_warnings = 0;
    if (error && error_size > 0) error[0] = 0;
}

int cjpegshim_decode(const unsigned char *data, unsigned long size, int hint_ybr, int fancy_upsampling,
                     unsigned char *out, unsigned long out_size, cjpegshim_info *info,
                     char *error, size_t error_size) {
    struct jpeg_decompress_struct cinfo;
    shim_error_manager manager;
    memset(&cinfo, 0, sizeof(cinfo));
    memset(info, 0, sizeof(*info));
    shim_install(&manager, error, error_size);
    cinfo.err = &manager.pub;
    if (setjmp(manager.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    if (size == 0) {
        snprintf(error, error_size, "the JPEG stream is empty");
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_mem_src(&cinfo, data, size);
    jpeg_read_header(&cinfo, TRUE);
    info->width = (int)cinfo.image_width;
    info->height = (int)cinfo.image_height;
    info->components = cinfo.num_components;
    info->precision = cinfo.data_precision;
    info->saw_jfif = cinfo.saw_JFIF_marker;
    info->saw_adobe = cinfo.saw_Adobe_marker;
    if (cinfo.num_components == 3) {
        if (!cinfo.saw_Adobe_marker && !cinfo.saw_JFIF_marker) {
            cinfo.jpeg_color_space = hint_ybr ? JCS_YCbCr : JCS_RGB;
        }
        cinfo.out_color_space = JCS_RGB;
    }
    cinfo.do_fancy_upsampling = fancy_upsampling ? TRUE : FALSE;
    jpeg_start_decompress(&cinfo);
    info->jpeg_color_space = cinfo.jpeg_color_space;
    info->out_color_space = cinfo.out_color_space;
    unsigned long row_bytes = (unsigned long)cinfo.output_width * (unsigned long)cinfo.output_components;
    if (row_bytes * (unsigned long)cinfo.output_height != out_size) {
        snprintf(error, error_size, "the JPEG stream is %ux%u with %d component(s), %lu bytes, but %lu were expected",
                 cinfo.output_width, cinfo.output_height, cinfo.output_components,
                 row_bytes * (unsigned long)cinfo.output_height, out_size);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = out + (unsigned long)cinfo.output_scanline * row_bytes;
        if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) {
            snprintf(error, error_size, "libjpeg returned no scanline at row %u", cinfo.output_scanline);
            jpeg_destroy_decompress(&cinfo);
            return -1;
        }
    }
    jpeg_finish_decompress(&cinfo);
    info->serious_warnings = manager.serious_warnings;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

int cjpegshim_encode(const unsigned char *pixels, int width, int height, int components, int input_ybr,
                     int quality, int horizontal_subsampling, unsigned char **out, unsigned long *out_size,
                     char *error, size_t error_size) {
    struct jpeg_compress_struct cinfo;
    shim_error_manager manager;
    unsigned char *buffer = NULL;
    unsigned long buffer_size = 0;
    memset(&cinfo, 0, sizeof(cinfo));
    shim_install(&manager, error, error_size);
    cinfo.err = &manager.pub;
    *out = NULL;
    *out_size = 0;
    if (setjmp(manager.jump)) {
        jpeg_destroy_compress(&cinfo);
        if (buffer) free(buffer);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &buffer, &buffer_size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = components;
    cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : (input_ybr ? JCS_YCbCr : JCS_RGB);
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    if (components == 3) {
        jpeg_set_colorspace(&cinfo, JCS_YCbCr);
        cinfo.comp_info[0].h_samp_factor = horizontal_subsampling == 2 ? 2 : 1;
        cinfo.comp_info[0].v_samp_factor = 1;
        cinfo.comp_info[1].h_samp_factor = 1;
        cinfo.comp_info[1].v_samp_factor = 1;
        cinfo.comp_info[2].h_samp_factor = 1;
        cinfo.comp_info[2].v_samp_factor = 1;
    }
    cinfo.optimize_coding = FALSE;
    jpeg_start_compress(&cinfo, TRUE);
    unsigned long row_bytes = (unsigned long)width * (unsigned long)components;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (unsigned long)cinfo.next_scanline * row_bytes);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = buffer;
    *out_size = buffer_size;
    return 0;
}

void cjpegshim_free(unsigned char *buffer) { free(buffer); }
