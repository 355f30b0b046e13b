// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_demo: what a VMM sees of guest_memfd, told step by step.
 *
 * Raw KVM ioctls, no framework.  A KVM_X86_SW_PROTECTED_VM gets two memslots:
 * ordinary anonymous memory holding the guest's code, and a guest_memfd
 * holding the guest's private data.  A vCPU runs a few real-mode instructions
 * that write and read the private page and report each value on an I/O port.
 *
 * On the base kernel the only way to share a private page is destructive:
 * flip the VM's memory attributes, which makes KVM use *other* memory (the
 * memslot's userspace_addr), and punch the private page out of the file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE_SIZE	4096UL
#define CODE_GPA	0x0UL
#define CODE_SIZE	0x10000UL
#define GMEM_GPA	0x10000UL
#define GMEM_SIZE	(16 * PAGE_SIZE)
#define REPORT_PORT	0x10

/*
 * The guest, in 16-bit real mode, loaded at CODE_GPA + 0x1000 with CS = 0:
 * DS points at the guest_memfd slot; each "out" hands a value to the VMM.
 */
asm(".pushsection .rodata\n"
    "guest_code:\n"
    ".code16\n"
    "	mov $0x1000, %ax\n"
    "	mov %ax, %ds\n"			/* DS:0 = GMEM_GPA */
    "	movw $0xbeef, (0)\n"		/* write the private page */
    "	mov (0), %ax\n"
    "	out %ax, $0x10\n"		/* 1: read back while private */
    "	mov (0), %ax\n"
    "	out %ax, $0x10\n"		/* 2: read after "sharing" */
    "	mov (0), %ax\n"
    "	out %ax, $0x10\n"		/* 3: read after going back private */
    "	hlt\n"
    ".code64\n"
    "guest_code_end:\n"
    ".popsection\n");
extern const unsigned char guest_code[], guest_code_end[];

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void die(const char *what)
{
	fprintf(stderr, "gmem_demo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	int r = ioctl(fd, req, arg);

	if (r < 0)
		die(what);
	return r;
}

static void set_private(int vm, uint64_t gpa, uint64_t size, int private)
{
	struct kvm_memory_attributes attr = {
		.address = gpa,
		.size = size,
		.attributes = private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
	};

	xioctl(vm, KVM_SET_MEMORY_ATTRIBUTES, &attr, "KVM_SET_MEMORY_ATTRIBUTES");
}

/* Run until the guest reports a value on REPORT_PORT or halts. */
static int run_to_report(int vcpu, struct kvm_run *run, uint16_t *val)
{
	for (;;) {
		xioctl(vcpu, KVM_RUN, NULL, "KVM_RUN");
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			if (run->io.port != REPORT_PORT || run->io.size != 2) {
				fprintf(stderr, "unexpected I/O on port 0x%x\n", run->io.port);
				exit(1);
			}
			memcpy(val, (char *)run + run->io.data_offset, 2);
			return 1;
		case KVM_EXIT_HLT:
			return 0;
		case KVM_EXIT_MEMORY_FAULT:
			fprintf(stderr, "memory fault exit: gpa 0x%llx size 0x%llx flags 0x%llx\n",
				run->memory_fault.gpa, run->memory_fault.size,
				run->memory_fault.flags);
			exit(1);
		default:
			fprintf(stderr, "unexpected exit reason %u\n", run->exit_reason);
			exit(1);
		}
	}
}

int main(void)
{
	struct kvm_create_guest_memfd cg = { .size = GMEM_SIZE };
	struct kvm_userspace_memory_region2 region = { 0 };
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	int kvm, vm, vcpu, gmem, run_size;
	void *code, *shared, *p;
	uint16_t val;

	say("== gmem_demo: guest_memfd as a VMM sees it ==\n");
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("open /dev/kvm");
	if (!(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_VM_TYPES) & (1 << KVM_X86_SW_PROTECTED_VM))) {
		fprintf(stderr, "gmem_demo: KVM_X86_SW_PROTECTED_VM is not offered (needs TDP)\n");
		return 1;
	}
	vm = xioctl(kvm, KVM_CREATE_VM, (void *)KVM_X86_SW_PROTECTED_VM, "KVM_CREATE_VM");
	say("1. Created a KVM_X86_SW_PROTECTED_VM: a VM type with private memory.\n");
	say("   guest_memfd creation flags offered: 0x%x, in-place conversion capability: %d\n",
	    ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS),
	    ioctl(vm, KVM_CHECK_EXTENSION, 252 /* KVM_CAP_GMEM_CONVERSION */));

	/* Slot 0: ordinary memory with the guest's code. */
	code = mmap(NULL, CODE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED)
		die("mmap code");
	memcpy((char *)code + 0x1000, guest_code, guest_code_end - guest_code);
	region.slot = 0;
	region.guest_phys_addr = CODE_GPA;
	region.memory_size = CODE_SIZE;
	region.userspace_addr = (uintptr_t)code;
	xioctl(vm, KVM_SET_USER_MEMORY_REGION2, &region, "KVM_SET_USER_MEMORY_REGION2 (code)");

	/* Slot 1: a guest_memfd for private memory, plus shared memory beside it. */
	gmem = xioctl(vm, KVM_CREATE_GUEST_MEMFD, &cg, "KVM_CREATE_GUEST_MEMFD");
	say("2. Created a guest_memfd of %lu KiB (flags 0): the guest's private memory.\n",
	    GMEM_SIZE >> 10);
	shared = mmap(NULL, GMEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		die("mmap shared");
	region.slot = 1;
	region.flags = KVM_MEM_GUEST_MEMFD;
	region.guest_phys_addr = GMEM_GPA;
	region.memory_size = GMEM_SIZE;
	region.userspace_addr = (uintptr_t)shared;
	region.guest_memfd = gmem;
	region.guest_memfd_offset = 0;
	xioctl(vm, KVM_SET_USER_MEMORY_REGION2, &region, "KVM_SET_USER_MEMORY_REGION2 (gmem)");
	set_private(vm, GMEM_GPA, GMEM_SIZE, 1);
	say("3. Bound it to gpa 0x%lx and marked the range private with KVM_SET_MEMORY_ATTRIBUTES.\n",
	    GMEM_GPA);

	p = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, gmem, 0);
	if (p == MAP_FAILED)
		say("   mmap() of this guest_memfd fails (%s): the host cannot read private memory.\n",
		    strerror(errno));
	else
		say("   mmap() of this guest_memfd succeeded: unexpected for a file without MMAP!\n");

	vcpu = xioctl(vm, KVM_CREATE_VCPU, NULL, "KVM_CREATE_VCPU");
	run_size = xioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, NULL, "KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");
	xioctl(vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	xioctl(vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = 0x1000;
	regs.rflags = 2;
	xioctl(vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");

	if (!run_to_report(vcpu, run, &val))
		goto halted;
	say("4. The vCPU wrote 0xbeef to its private page and read back 0x%04x.\n", val);

	set_private(vm, GMEM_GPA, PAGE_SIZE, 0);
	say("5. The VMM 'shares' the page the base way: KVM_SET_MEMORY_ATTRIBUTES(shared).\n");
	say("   The shared view is the memslot's userspace_addr, other memory, which holds 0x%04x.\n",
	    *(uint16_t *)shared);
	if (!run_to_report(vcpu, run, &val))
		goto halted;
	say("   The vCPU now reads 0x%04x: %s\n", val,
	    val == 0xbeef ? "the private data (in place!)" : "not its data: sharing swapped the memory");

	set_private(vm, GMEM_GPA, PAGE_SIZE, 1);
	if (fallocate(gmem, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0, PAGE_SIZE))
		die("fallocate(PUNCH_HOLE)");
	say("6. Back to private, and the stale private page punched out, as a VMM does today.\n");
	if (!run_to_report(vcpu, run, &val))
		goto halted;
	say("   The vCPU reads 0x%04x from its private page: %s\n", val,
	    val == 0xbeef ? "kept" : "the data did not survive the round trip");

	if (run_to_report(vcpu, run, &val)) {
		fprintf(stderr, "gmem_demo: the guest reported more than expected\n");
		return 1;
	}
	say("7. The vCPU halted.  On this kernel a private<->shared round trip costs the data;\n"
	    "   in-place conversion (KVM_GMEM_CONVERT_*) is what the series adds.\n");
	return 0;

halted:
	fprintf(stderr, "gmem_demo: the guest halted early\n");
	return 1;
}
