# The Warden appliance image: one boot of the prepared disk under qemu, finished from inside, qcow2 out.
# Written for Debian's packer 1.6.6: HCL2, the qemu builder compiled in, so no `required_plugins` and no `packer init`.
# scripts/image/make-image.sh prepares the disk and passes the variables; `packer validate` works with the defaults.

variable "source_disk" {
  type        = string
  description = "Absolute path of the raw disk made from the rootfs (MBR, GRUB, one ext4 partition)."
  default     = "/var/cache/warden-build/image/disk.raw"
}

variable "output_directory" {
  type    = string
  default = "build/image/packer"
}

variable "serial_log" {
  type        = string
  description = "The guest's serial console (console=ttyS0) goes here; make-image.sh shows it and checks it."
  default     = "build/image/serial.log"
}

variable "cpus" {
  type    = number
  default = 2
}

variable "memory" {
  type    = number
  default = 2048
}

source "qemu" "warden" {
  # The disk is booted as it is, by its own boot loader: the first boot of the appliance, not an installer.
  disk_image   = true
  iso_url      = "file://${var.source_disk}"
  iso_checksum = "none"

  # KVM exists on the build machine but does not work; TCG is slower and always there.
  accelerator  = "tcg"
  machine_type = "pc"
  cpus         = var.cpus
  memory       = var.memory

  disk_interface     = "virtio"
  net_device         = "virtio-net"
  # The guest trims freed blocks before it powers off (holes in the qcow2, a smaller image).
  disk_discard       = "unmap"
  disk_detect_zeroes = "unmap"
  # The disk keeps the size make-image.sh gave it (packer would grow it to its 40 GiB default).
  skip_resize_disk = true

  format           = "qcow2"
  disk_compression = true
  output_directory = var.output_directory
  vm_name          = "warden.qcow2"

  # The image has no sshd by design: a unit inside the guest finishes the image and powers it off, and packer
  # only waits for that (make-image.sh then reads the verdict from the serial log).
  communicator     = "none"
  shutdown_timeout = "30m"
  boot_wait        = "1s"

  headless    = true
  # No boot_command to type and no screen to watch: no VNC connection from packer, no VNC server in qemu.
  disable_vnc = true
  qemuargs = [
    ["-serial", "file:${var.serial_log}"],
    ["-display", "none"],
    ["-vnc", "none"],
    # A network card as in the field, on a user-mode network that reaches nothing: no packet leaves the build host.
    ["-netdev", "user,id=user.0,restrict=on"],
  ]
}

build {
  sources = ["source.qemu.warden"]
}
