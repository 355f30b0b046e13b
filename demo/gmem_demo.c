// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_demo: what a VMM sees of guest_memfd, told step by step.
 *
 * Raw KVM ioctls, no framework.  A KVM_X86_SW_PROTECTED_VM gets two memslots:
 * ordinary anonymous memory holding the guest's code, and a guest_memfd
 * holding the guest's private data.  A vCPU runs a few real-mode instructions
 * that write and read the private page and report each value on an I/O port.
 *
 * Twice: first the way the base kernel shares a private page, destructively
 * (flip the VM's memory attributes, which makes KVM use *other* memory, the
 * memslot's userspace_addr, and punch the private page out of the file); then
 * in place, with a guest_memfd that owns the state of its pages and the
 * KVM_GMEM_CONVERT_SHARED / KVM_GMEM_CONVERT_PRIVATE ioctls.
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
#include <sys/uio.h>
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

static int convert(int gmem, uint64_t offset, uint64_t size, int to_private,
		   uint64_t *error_offset)
{
	struct kvm_gmem_convert args = { .offset = offset, .size = size };
	int r;

	r = ioctl(gmem, to_private ? KVM_GMEM_CONVERT_PRIVATE : KVM_GMEM_CONVERT_SHARED, &args);
	if (error_offset)
		*error_offset = args.error_offset;
	return r;
}

static void xconvert(int gmem, uint64_t offset, uint64_t size, int to_private)
{
	if (convert(gmem, offset, size, to_private, NULL))
		die(to_private ? "KVM_GMEM_CONVERT_PRIVATE" : "KVM_GMEM_CONVERT_SHARED");
}

struct vm {
	int vm, vcpu, gmem;
	struct kvm_run *run;
	void *shared;		/* what the gmem slot's userspace_addr points at */
};

static void create_vm(int kvm, struct vm *v, uint64_t gmem_flags)
{
	struct kvm_create_guest_memfd cg = { .size = GMEM_SIZE, .flags = gmem_flags };
	struct kvm_userspace_memory_region2 region = { 0 };
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	void *code;
	int run_size;

	v->vm = xioctl(kvm, KVM_CREATE_VM, (void *)KVM_X86_SW_PROTECTED_VM, "KVM_CREATE_VM");

	/* Slot 0: ordinary memory with the guest's code. */
	code = mmap(NULL, CODE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED)
		die("mmap code");
	memcpy((char *)code + 0x1000, guest_code, guest_code_end - guest_code);
	region.slot = 0;
	region.guest_phys_addr = CODE_GPA;
	region.memory_size = CODE_SIZE;
	region.userspace_addr = (uintptr_t)code;
	xioctl(v->vm, KVM_SET_USER_MEMORY_REGION2, &region, "KVM_SET_USER_MEMORY_REGION2 (code)");

	/*
	 * Slot 1: the guest_memfd.  Its shared view is other memory for a file
	 * without MMAP, and the file itself for an in-place file.
	 */
	v->gmem = xioctl(v->vm, KVM_CREATE_GUEST_MEMFD, &cg, "KVM_CREATE_GUEST_MEMFD");
	if (gmem_flags & GUEST_MEMFD_FLAG_MMAP)
		v->shared = mmap(NULL, GMEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, v->gmem, 0);
	else
		v->shared = mmap(NULL, GMEM_SIZE, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (v->shared == MAP_FAILED)
		die("mmap shared view");
	region.slot = 1;
	region.flags = KVM_MEM_GUEST_MEMFD;
	region.guest_phys_addr = GMEM_GPA;
	region.memory_size = GMEM_SIZE;
	region.userspace_addr = (uintptr_t)v->shared;
	region.guest_memfd = v->gmem;
	region.guest_memfd_offset = 0;
	xioctl(v->vm, KVM_SET_USER_MEMORY_REGION2, &region, "KVM_SET_USER_MEMORY_REGION2 (gmem)");

	v->vcpu = xioctl(v->vm, KVM_CREATE_VCPU, NULL, "KVM_CREATE_VCPU");
	run_size = xioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, NULL, "KVM_GET_VCPU_MMAP_SIZE");
	v->run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
	if (v->run == MAP_FAILED)
		die("mmap kvm_run");
	xioctl(v->vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	xioctl(v->vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = 0x1000;
	regs.rflags = 2;
	xioctl(v->vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");
}

static uint16_t step(struct vm *v)
{
	uint16_t val;

	if (!run_to_report(v->vcpu, v->run, &val)) {
		fprintf(stderr, "gmem_demo: the guest halted early\n");
		exit(1);
	}
	return val;
}

static void finish(struct vm *v)
{
	uint16_t val;

	if (run_to_report(v->vcpu, v->run, &val)) {
		fprintf(stderr, "gmem_demo: the guest reported more than expected\n");
		exit(1);
	}
}

/* Part A: the base kernel's way, on a file without MMAP. */
static void destructive(int kvm)
{
	struct vm v;
	uint16_t val;
	void *p;

	say("\n-- A. Sharing the base way (guest_memfd without MMAP) --\n");
	create_vm(kvm, &v, 0);
	set_private(v.vm, GMEM_GPA, GMEM_SIZE, 1);
	say("A1. A SW_PROTECTED VM, a 64 KiB guest_memfd (flags 0) at gpa 0x%lx, marked\n"
	    "    private with KVM_SET_MEMORY_ATTRIBUTES.\n", GMEM_GPA);
	p = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, v.gmem, 0);
	say("    mmap() of the guest_memfd: %s\n",
	    p == MAP_FAILED ? "refused, the host cannot read private memory" : "allowed?!");

	val = step(&v);
	say("A2. The vCPU wrote 0xbeef to its private page and read back 0x%04x.\n", val);
	set_private(v.vm, GMEM_GPA, PAGE_SIZE, 0);
	say("A3. KVM_SET_MEMORY_ATTRIBUTES(shared): the shared view is the memslot's\n"
	    "    userspace_addr, other memory, holding 0x%04x.\n", *(uint16_t *)v.shared);
	val = step(&v);
	say("    The vCPU now reads 0x%04x: %s\n", val,
	    val == 0xbeef ? "its data" : "not its data, sharing swapped the memory");
	set_private(v.vm, GMEM_GPA, PAGE_SIZE, 1);
	if (fallocate(v.gmem, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0, PAGE_SIZE))
		die("fallocate(PUNCH_HOLE)");
	val = step(&v);
	say("A4. Back to private (and the stale page punched out): the vCPU reads 0x%04x,\n"
	    "    %s\n", val, val == 0xbeef ? "kept" : "the data did not survive the round trip.");
	finish(&v);
}

/* Part B: in place. */
static void inplace(int kvm)
{
	uint64_t error_offset;
	struct iovec iov;
	struct vm v;
	char buf[PAGE_SIZE];
	int pipefd[2], r;
	uint16_t val;

	say("\n-- B. Converting in place (guest_memfd with MMAP | INIT_PRIVATE) --\n");
	create_vm(kvm, &v, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_PRIVATE);
	say("B1. A SW_PROTECTED VM, a 64 KiB in-place guest_memfd at gpa 0x%lx, mmap()ed\n"
	    "    as the memslot's userspace_addr.  The file says what is private, not the VM.\n",
	    GMEM_GPA);

	val = step(&v);
	say("B2. The vCPU wrote 0xbeef to its private page and read back 0x%04x.\n", val);

	xconvert(v.gmem, 0, PAGE_SIZE, 0);
	say("B3. KVM_GMEM_CONVERT_SHARED of page 0: the VMM reads 0x%04x through the mapping,\n"
	    "    the guest's data, in place.  It writes 0xcafe.\n", *(uint16_t *)v.shared);
	*(uint16_t *)v.shared = 0xcafe;
	val = step(&v);
	say("    The vCPU reads 0x%04x: the same page, shared.\n", val);

	xconvert(v.gmem, 0, GMEM_SIZE, 0);
	if (pipe(pipefd))
		die("pipe");
	iov.iov_base = (char *)v.shared + 5 * PAGE_SIZE;
	iov.iov_len = PAGE_SIZE;
	if (vmsplice(pipefd[1], &iov, 1, 0) != PAGE_SIZE)
		die("vmsplice");
	r = convert(v.gmem, 0, GMEM_SIZE, 1, &error_offset);
	say("B4. All 16 pages shared, page 5 spliced into a pipe (the pipe holds a reference).\n"
	    "    KVM_GMEM_CONVERT_PRIVATE of all 16 pages: %s, error_offset 0x%llx;\n"
	    "    nothing changed: page 0 still reads 0x%04x through the mapping.\n",
	    r ? strerror(errno) : "succeeded?!", (unsigned long long)error_offset,
	    *(uint16_t *)v.shared);
	if (!r || errno != EAGAIN)
		exit(1);
	if (read(pipefd[0], buf, sizeof(buf)) != PAGE_SIZE)
		die("read pipe");
	xconvert(v.gmem, 0, GMEM_SIZE, 1);
	say("    The pipe drained, the same call succeeds: all 16 pages are private again.\n");

	val = step(&v);
	say("B5. The vCPU reads 0x%04x from its private page: the data survived shared ->\n"
	    "    private -> shared -> private without a copy.\n", val);
	finish(&v);
	if (val != 0xcafe)
		exit(1);
}

int main(void)
{
	int kvm;

	say("== gmem_demo: guest_memfd as a VMM sees it ==\n");
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("open /dev/kvm");
	if (!(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_VM_TYPES) & (1 << KVM_X86_SW_PROTECTED_VM))) {
		fprintf(stderr, "gmem_demo: KVM_X86_SW_PROTECTED_VM is not offered (needs TDP)\n");
		return 1;
	}
	say("KVM_CAP_GMEM_CONVERSION: %d, guest_memfd flags: 0x%x\n",
	    ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GMEM_CONVERSION),
	    ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS));

	destructive(kvm);
	inplace(kvm);
	say("\nDone: in place, sharing a page keeps its data and needs no second copy.\n");
	return 0;
}
