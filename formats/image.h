/*
 * The image types behind blockdev_open (formats/blockdev.c): raw files (flat
 * disks, ISO media, floppy images) and the in-memory copy-on-write overlay.
 * VMDK has its own header (formats/vmdk.h).
 */
#ifndef VMPLAY_IMAGE_H
#define VMPLAY_IMAGE_H

#include "formats/blockdev.h"

/* A raw image: disk (any size, rounded up to whole sectors), CD-ROM (ISO,
 * 2048-byte blocks, read-only) or floppy (360K/720K/1.2M/1.44M/2.88M). */
int raw_open(const char *path, const struct blockdev_open_opts *opts, struct blockdev **out,
             struct error *err);

/* Wraps base (owned from then on): reads see base plus every write so far,
 * writes stay in memory; base is never written. warning may be NULL. */
int overlay_new(struct blockdev *base, const char *warning, struct blockdev **out,
                struct error *err);

#endif
