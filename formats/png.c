/*
 * PNG screenshots with libpng (see png.h): rows converted from XRGB to RGB
 * one at a time, libpng errors caught with its setjmp, the result renamed
 * into place only after a successful close.
 */
#include "formats/png.h"

#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct png_job {
    FILE *f;
    const uint32_t *pixels;
    unsigned width, height;
    size_t stride;
    uint8_t *row;
};

static void xrgb_to_rgb(uint8_t *dst, const uint32_t *src, unsigned n)
{
    for (unsigned x = 0; x < n; x++) {
        dst[3 * x] = (uint8_t)(src[x] >> 16);
        dst[3 * x + 1] = (uint8_t)(src[x] >> 8);
        dst[3 * x + 2] = (uint8_t)src[x];
    }
}

/* Returns 0, or -1 when libpng failed. */
static int encode(struct png_job *j)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, j->f);
    png_set_IHDR(png, info, j->width, j->height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    png_write_info(png, info);
    for (unsigned y = 0; y < j->height; y++) {
        xrgb_to_rgb(j->row, (const uint32_t *)((const uint8_t *)j->pixels + y * j->stride), j->width);
        png_write_row(png, j->row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int png_write_xrgb(const char *path, const uint32_t *pixels, unsigned width, unsigned height,
                   size_t stride, struct error *err)
{
    if (!width || !height || stride < (size_t)width * 4)
        return error_set(err, EX_SOFTWARE, "%s: no picture to write (%ux%u)", path, width, height);
    size_t n = strlen(path);
    char *tmp = malloc(n + 32);
    struct png_job j = {.pixels = pixels, .width = width, .height = height, .stride = stride};
    j.row = malloc((size_t)width * 3);
    if (!tmp || !j.row) {
        free(tmp);
        free(j.row);
        return error_set(err, EX_OSERR, "%s: out of memory", path);
    }
    int fd = -1;
    for (unsigned i = 0; fd < 0 && i < 100; i++) { /* another thread may be writing one too */
        snprintf(tmp, n + 32, "%s.tmp%ld.%u", path, (long)getpid(), i);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    int rc = -1;
    if (fd < 0) {
        error_set(err, EX_CANTCREAT, "%s: %s", path, strerror(errno));
    } else if (!(j.f = fdopen(fd, "wb"))) {
        error_set(err, EX_CANTCREAT, "%s: %s", path, strerror(errno));
        close(fd);
    } else {
        int enc = encode(&j);
        int cl = fclose(j.f);
        if (enc < 0)
            error_set(err, EX_IOERR, "%s: PNG encoding failed", path);
        else if (cl != 0 || rename(tmp, path) != 0)
            error_set(err, EX_CANTCREAT, "%s: %s", path, strerror(errno));
        else
            rc = 0;
    }
    if (rc < 0 && fd >= 0)
        unlink(tmp);
    free(tmp);
    free(j.row);
    return rc;
}
