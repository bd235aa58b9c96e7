/*
 * Motorola MC146818 real-time clock and CMOS NVRAM at ports 0x70 (index,
 * bit 7 = NMI disable) and 0x71 (data), interrupt on IRQ8. The date starts
 * at the time_t the board passes (shown as UTC broken-down time: pass
 * time(NULL) + tm_gmtoff for a local-time RTC) and advances with the
 * machine clock. The NVRAM holds the fields SeaBIOS and older operating
 * systems read, filled from struct rtc_cmos_info.
 */
#ifndef VMPLAY_RTC_H
#define VMPLAY_RTC_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/irq.h"

/* Boot device codes in CMOS 0x3D/0x38 (Bochs/QEMU BIOS convention). */
enum { RTC_BOOT_NONE, RTC_BOOT_FLOPPY, RTC_BOOT_DISK, RTC_BOOT_CDROM, RTC_BOOT_NET };

/* Floppy drive types in CMOS 0x10 (one nibble per drive). */
enum { RTC_FLOPPY_NONE, RTC_FLOPPY_360K, RTC_FLOPPY_1M2, RTC_FLOPPY_720K, RTC_FLOPPY_1M44,
       RTC_FLOPPY_2M88 };

struct rtc_cmos_info {
    uint64_t ram_below_4g;  /* bytes of RAM from 0 up to the PCI hole */
    uint64_t ram_above_4g;  /* bytes of RAM from 4 GiB up */
    unsigned cpus;          /* 1.. */
    uint8_t floppy[2];      /* RTC_FLOPPY_* for drives A: and B: */
    struct {
        uint16_t cylinders; /* 0 = no disk */
        uint8_t heads, sectors;
    } disk[2];              /* IDE primary master and slave, for the old type-47 tables */
    uint8_t boot[3];        /* RTC_BOOT_* in order */
    bool no_floppy_sig_check;
};

struct rtc;

/* Maps 0x70-0x71. irq8: IRQF (raised when an enabled flag sets, lowered by reading register C). */
struct rtc *rtc_new(struct bus *bus, struct clock *clock, struct irq irq8, int64_t power_on,
                    const struct rtc_cmos_info *info);
void rtc_free(struct rtc *rtc);
/* Machine reset: clears the interrupt enables and flags; time and NVRAM are kept. */
void rtc_reset(struct rtc *rtc);

/* NMI disabled by the last index write (bit 7 of port 0x70). */
bool rtc_nmi_masked(const struct rtc *rtc);
/* Direct NVRAM access for the board (index 0..127). */
uint8_t rtc_cmos_read(struct rtc *rtc, unsigned index);
void rtc_cmos_write(struct rtc *rtc, unsigned index, uint8_t value);

#endif
