/*
 * Screenshots: XRGB8888 pixels written as an 8-bit RGB PNG with libpng.
 * The file appears complete or not at all (written to a temporary file in
 * the same folder, then renamed over the target).
 */
#ifndef VMPLAY_PNG_H
#define VMPLAY_PNG_H

#include <stddef.h>
#include <stdint.h>

#include "formats/error.h"

/* pixels: height rows of stride bytes, each pixel 0x00RRGGBB. Returns 0 or -1 with err. */
int png_write_xrgb(const char *path, const uint32_t *pixels, unsigned width, unsigned height,
                   size_t stride, struct error *err);

#endif
