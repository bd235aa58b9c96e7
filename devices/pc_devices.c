/*
 * The lifecycle tables of the board's devices (pc_devices.h): small adapters
 * from each device's typed reset/free/save/load to the void * the list calls.
 */
#include "devices/pc_devices.h"

#include "devices/ahci.h"
#include "devices/apic.h"
#include "devices/dma8237.h"
#include "devices/e1000.h"
#include "devices/fdc.h"
#include "devices/fwcfg.h"
#include "devices/i440fx.h"
#include "devices/i8042.h"
#include "devices/ide.h"
#include "devices/ioapic.h"
#include "devices/misc.h"
#include "devices/nvme.h"
#include "devices/pcnet.h"
#include "devices/pic.h"
#include "devices/piix3.h"
#include "devices/piix4pm.h"
#include "devices/pit.h"
#include "devices/rtc.h"
#include "devices/scsi_hba.h"
#include "devices/uart.h"
#include "devices/svga.h"
#include "devices/vga.h"
#include "devices/vmxnet3.h"

/* dev_reset_op and dev_free_op calling dev_reset(opaque) and dev_free(opaque). */
#define RESET_FREE_OPS(dev)                                                                        \
    static void dev##_reset_op(void *o)                                                            \
    {                                                                                              \
        dev##_reset(o);                                                                            \
    }                                                                                              \
    static void dev##_free_op(void *o)                                                             \
    {                                                                                              \
        dev##_free(o);                                                                             \
    }
/* dev_save_op and dev_load_op calling dev_save and dev_load (section version 1 today). */
#define SAVE_LOAD_OPS(dev)                                                                         \
    static int dev##_save_op(void *o, struct state_writer *w)                                      \
    {                                                                                              \
        return dev##_save(o, w);                                                                   \
    }                                                                                              \
    static int dev##_load_op(void *o, struct state_reader *r, struct error *err)                   \
    {                                                                                              \
        return dev##_load(o, r, err);                                                              \
    }
#define FREE_OP(dev)                                                                               \
    static void dev##_free_op(void *o)                                                             \
    {                                                                                              \
        dev##_free(o);                                                                             \
    }

RESET_FREE_OPS(i440fx)
RESET_FREE_OPS(piix3)
RESET_FREE_OPS(ide)
RESET_FREE_OPS(piix4pm)
RESET_FREE_OPS(apic)
RESET_FREE_OPS(pic)
RESET_FREE_OPS(ioapic)
RESET_FREE_OPS(dma8237)
RESET_FREE_OPS(fdc)
RESET_FREE_OPS(pit)
RESET_FREE_OPS(rtc)
RESET_FREE_OPS(port92)
RESET_FREE_OPS(i8042)
RESET_FREE_OPS(uart)
RESET_FREE_OPS(fwcfg)
RESET_FREE_OPS(vga)
RESET_FREE_OPS(svga)
RESET_FREE_OPS(ahci)
RESET_FREE_OPS(nvme)
RESET_FREE_OPS(scsi_hba)
RESET_FREE_OPS(e1000)
RESET_FREE_OPS(pcnet)
RESET_FREE_OPS(vmxnet3)
SAVE_LOAD_OPS(pic)
SAVE_LOAD_OPS(pit)
SAVE_LOAD_OPS(uart)
SAVE_LOAD_OPS(port92)
SAVE_LOAD_OPS(ioapic)
FREE_OP(postcode)
FREE_OP(debugcon)
FREE_OP(debugexit)

const struct device_ops i440fx_device = {
    .name = "i440fx", .reset = i440fx_reset_op, .free = i440fx_free_op};
const struct device_ops piix3_device = {
    .name = "piix3", .reset = piix3_reset_op, .free = piix3_free_op};
const struct device_ops ide_device = {.name = "ide", .reset = ide_reset_op, .free = ide_free_op};
const struct device_ops piix4pm_device = {
    .name = "piix4pm", .reset = piix4pm_reset_op, .free = piix4pm_free_op};
const struct device_ops apic_device = {
    .name = "apic", .reset = apic_reset_op, .free = apic_free_op};
const struct device_ops pic_device = {.name = "pic",
                                      .version = 1,
                                      .reset = pic_reset_op,
                                      .free = pic_free_op,
                                      .save = pic_save_op,
                                      .load = pic_load_op};
const struct device_ops ioapic_device = {.name = "ioapic",
                                         .version = 1,
                                         .reset = ioapic_reset_op,
                                         .free = ioapic_free_op,
                                         .save = ioapic_save_op,
                                         .load = ioapic_load_op};
const struct device_ops dma8237_device = {
    .name = "dma8237", .reset = dma8237_reset_op, .free = dma8237_free_op};
const struct device_ops fdc_device = {.name = "fdc", .reset = fdc_reset_op, .free = fdc_free_op};
const struct device_ops pit_device = {.name = "pit",
                                      .version = 1,
                                      .reset = pit_reset_op,
                                      .free = pit_free_op,
                                      .save = pit_save_op,
                                      .load = pit_load_op};
const struct device_ops rtc_device = {.name = "rtc", .reset = rtc_reset_op, .free = rtc_free_op};
const struct device_ops port92_device = {.name = "port92",
                                         .version = 1,
                                         .reset = port92_reset_op,
                                         .free = port92_free_op,
                                         .save = port92_save_op,
                                         .load = port92_load_op};
const struct device_ops i8042_device = {
    .name = "i8042", .reset = i8042_reset_op, .free = i8042_free_op};
const struct device_ops uart_device = {.name = "uart",
                                       .version = 1,
                                       .reset = uart_reset_op,
                                       .free = uart_free_op,
                                       .save = uart_save_op,
                                       .load = uart_load_op};
const struct device_ops fwcfg_device = {
    .name = "fwcfg", .reset = fwcfg_reset_op, .free = fwcfg_free_op};
const struct device_ops vga_device = {.name = "vga", .reset = vga_reset_op, .free = vga_free_op};
const struct device_ops svga_device = {.name = "svga", .reset = svga_reset_op, .free = svga_free_op};
const struct device_ops ahci_device = {
    .name = "ahci", .reset = ahci_reset_op, .free = ahci_free_op};
const struct device_ops nvme_device = {
    .name = "nvme", .reset = nvme_reset_op, .free = nvme_free_op};
const struct device_ops scsi_hba_device = {
    .name = "scsi", .reset = scsi_hba_reset_op, .free = scsi_hba_free_op};
const struct device_ops e1000_device = {
    .name = "e1000", .reset = e1000_reset_op, .free = e1000_free_op};
const struct device_ops pcnet_device = {
    .name = "pcnet", .reset = pcnet_reset_op, .free = pcnet_free_op};
const struct device_ops vmxnet3_device = {
    .name = "vmxnet3", .reset = vmxnet3_reset_op, .free = vmxnet3_free_op};
/* Debug ports: nothing a guest reads back (the POST code is kept for tracing only). */
const struct device_ops postcode_device = {
    .name = "postcode", .stateless = true, .free = postcode_free_op};
const struct device_ops debugcon_device = {
    .name = "debugcon", .stateless = true, .free = debugcon_free_op};
const struct device_ops debugexit_device = {
    .name = "debugexit", .stateless = true, .free = debugexit_free_op};
