/*
 * The lifecycle operations (devices/device.h) of the devices pc.c builds, one
 * table per device type. pc.c registers each instance as it creates it.
 */
#ifndef VMPLAY_PC_DEVICES_H
#define VMPLAY_PC_DEVICES_H

#include "devices/device.h"

extern const struct device_ops i440fx_device, piix3_device, ide_device, piix4pm_device;
extern const struct device_ops apic_device, pic_device, ioapic_device;
extern const struct device_ops dma8237_device, fdc_device;
extern const struct device_ops pit_device, rtc_device, port92_device, i8042_device, uart_device;
extern const struct device_ops fwcfg_device, postcode_device, debugcon_device, debugexit_device;
extern const struct device_ops vga_device, svga_device, ahci_device, nvme_device, scsi_hba_device;
extern const struct device_ops e1000_device, pcnet_device, vmxnet3_device;

#endif
