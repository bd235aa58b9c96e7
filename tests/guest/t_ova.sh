#!/usr/bin/env bash
# vmplay foo.ova: an OVF package (DSP0243) built here with qemu-img (streamOptimized disks),
# GNU tar (ustar) and sha256sum (the manifest), holding the storage appliance's boot disk on
# IDE and its 16 MiB data disk on an LSI Logic SCSI controller; serial0 comes from the
# envelope's vmw:ExtraConfig. Oracles: the guest's serial markers (the data disk bound to the
# kernel's mptspi driver, what it wrote read back), sha256 of the .ova before and after (the
# package is never written), a second boot of a package with the readback appliance and the
# same data disk reads the first run's pattern (guest writes persist in pkg.ova.overlay/),
# and a package whose data disk was changed after its manifest was made is refused (65).
set -u
V=${VMPLAY:-./vmplay}
ok() { echo "PASS ova/$1"; }
bad() { echo "FAIL ova/$1: $2"; }
command -v qemu-img >/dev/null || { echo "SKIP ova/all: qemu-img (qemu-utils) not installed"; exit 0; }
img=$(BUILD=$BUILD tests/images/appliance.sh 2>"$BUILD/appliance-build.log") ||
    { bad image_build "$(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"; exit 0; }
run=$BUILD/guest/ova
rm -rf "$run"; mkdir -p "$run/src"
for d in storage readback data; do
    qemu-img convert -O vmdk -o subformat=streamOptimized "$img/$d.vmdk" "$run/src/$d.vmdk" ||
        { bad convert "qemu-img convert $d.vmdk failed"; exit 0; }
done
envelope() { # boot disk file
    local boot=$1
    local bsize dsize
    bsize=$(stat -c %s "$run/src/$boot"); dsize=$(stat -c %s "$run/src/data.vmdk")
    cat <<XML
<?xml version="1.0" encoding="UTF-8"?>
<Envelope vmw:buildId="build-1" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
    <File ovf:href="$boot" ovf:id="file1" ovf:size="$bsize"/>
    <File ovf:href="data.vmdk" ovf:id="file2" ovf:size="$dsize"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="64" ovf:capacityAllocationUnits="byte * 2^20" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
    <Disk ovf:capacity="16" ovf:capacityAllocationUnits="byte * 2^20" ovf:diskId="vmdisk2" ovf:fileRef="file2" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <NetworkSection><Info>The list of logical networks</Info><Network ovf:name="nat"><Description>The nat network</Description></Network></NetworkSection>
  <VirtualSystem ovf:id="vmplay-ova">
    <Info>A virtual machine</Info>
    <Name>vmplay OVA &amp; test</Name>
    <OperatingSystemSection ovf:id="96" vmw:osType="debian12Guest"><Info>The kind of installed guest operating system</Info></OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System><vssd:ElementName>Virtual Hardware Family</vssd:ElementName><vssd:InstanceID>0</vssd:InstanceID><vssd:VirtualSystemIdentifier>vmplay-ova</vssd:VirtualSystemIdentifier><vssd:VirtualSystemType>vmx-19</vssd:VirtualSystemType></System>
      <Item><rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits><rasd:Description>Number of Virtual CPUs</rasd:Description><rasd:ElementName>1 virtual CPU(s)</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:Description>Memory Size</rasd:Description><rasd:ElementName>256MB of memory</rasd:ElementName><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>256</rasd:VirtualQuantity></Item>
      <Item><rasd:Address>0</rasd:Address><rasd:Description>IDE Controller</rasd:Description><rasd:ElementName>ideController0</rasd:ElementName><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>5</rasd:ResourceType></Item>
      <Item><rasd:Address>0</rasd:Address><rasd:Description>SCSI Controller</rasd:Description><rasd:ElementName>scsiController0</rasd:ElementName><rasd:InstanceID>4</rasd:InstanceID><rasd:ResourceSubType>lsilogic</rasd:ResourceSubType><rasd:ResourceType>6</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:ElementName>disk0</rasd:ElementName><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>5</rasd:InstanceID><rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:ElementName>disk1</rasd:ElementName><rasd:HostResource>ovf:/disk/vmdisk2</rasd:HostResource><rasd:InstanceID>6</rasd:InstanceID><rasd:Parent>4</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item ovf:required="false"><rasd:AutomaticAllocation>false</rasd:AutomaticAllocation><rasd:ElementName>video</rasd:ElementName><rasd:InstanceID>7</rasd:InstanceID><rasd:ResourceType>24</rasd:ResourceType></Item>
      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="bios"/>
      <vmw:ExtraConfig ovf:required="false" vmw:key="serial0.present" vmw:value="TRUE"/>
      <vmw:ExtraConfig ovf:required="false" vmw:key="serial0.fileType" vmw:value="file"/>
      <vmw:ExtraConfig ovf:required="false" vmw:key="serial0.fileName" vmw:value="serial.txt"/>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
XML
}
pack() { # out.ova boot-disk [file to tamper after the manifest]
    local out=$1 boot=$2 w=$run/pack
    rm -rf "$w"; mkdir -p "$w"
    envelope "$boot" > "$w/pkg.ovf"
    cp "$run/src/$boot" "$run/src/data.vmdk" "$w/"
    (cd "$w" && sha256sum pkg.ovf "$boot" data.vmdk | sed 's/^\([0-9a-f]*\)  \(.*\)$/SHA256(\2)= \1/' > pkg.mf)
    [ -n "${3:-}" ] && printf 'X' | dd of="$w/$3" bs=1 seek=70000 conv=notrunc 2>/dev/null
    (cd "$w" && tar --format=ustar -cf "$out" pkg.ovf pkg.mf "$boot" data.vmdk)
}
play() { # package, extra args...
    local p=$1; shift
    (cd "$run" && rm -f serial.txt && timeout 900 "$V" --headless --cpu=soft --timeout=600 "$@" "$p")
}
marker() { grep -a "VMPLAY-MARKER: $1" "$run/serial.txt" 2>/dev/null | tr -d '\r' | awk '{print $NF}' | head -1; }

# A changed disk: refused before boot, one line, 65.
pack "$run/bad.ova" storage.vmdk data.vmdk
play bad.ova >/dev/null 2>"$run/bad.err"; st=$?
if [ $st = 65 ] && [ "$(wc -l < "$run/bad.err")" = 1 ] && grep -q 'data.vmdk does not match its SHA256' "$run/bad.err"; then
    ok manifest_mismatch_refused
else bad manifest_mismatch_refused "status $st: $(head -c 300 "$run/bad.err" | tr '\n' '|')"; fi

pack "$run/pkg.ova" storage.vmdk
before=$(sha256sum < "$run/pkg.ova")
play pkg.ova >/dev/null 2>"$run/run1.err"; st=$?
w=$(marker 'wrote data disk'); r=$(marker 'read data disk')
if [ $st = 0 ] && [ -n "$w" ] && [ "$w" = "$r" ]; then ok guest_writes_and_reads_back
else bad guest_writes_and_reads_back "status $st, wrote '$w' read '$r': $(head -c 300 "$run/run1.err")"; fi
if grep -aq 'VMPLAY-MARKER: disk sd[a-z] 32768 .* mptspi' "$run/serial.txt" 2>/dev/null; then ok scsi_lsilogic_from_envelope
else bad scsi_lsilogic_from_envelope "$(grep -a 'MARKER: disk' "$run/serial.txt" 2>/dev/null | tr -d '\r' | tr '\n' '|')"; fi
[ "$(sha256sum < "$run/pkg.ova")" = "$before" ] && ok ova_byte_identical || bad ova_byte_identical "sha256 changed"
[ -f "$run/pkg.ova.overlay/data.vmdk.cow" ] && ok overlay_beside_package || bad overlay_beside_package "$(ls "$run" | tr '\n' ' ')"

# The same data disk in a package that boots the readback appliance: the first run's writes.
mv "$run/pkg.ova" "$run/first.ova"
pack "$run/pkg.ova" readback.vmdk
play pkg.ova >/dev/null 2>"$run/run2.err"; st=$?
p=$(marker pattern)
if [ $st = 0 ] && [ -n "$w" ] && [ "$p" = "$w" ]; then ok writes_persist_across_runs
else bad writes_persist_across_runs "status $st, wrote '$w', read in run 2 '$p': $(head -c 300 "$run/run2.err")"; fi
exit 0
