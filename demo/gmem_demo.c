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
 *
 * Then a third part, HugeTLB-backed private memory: one SW_PROTECTED VM with
 * the same code slot plus two in-place, all-private guest_memfds backed by
 * HugeTLB pages (GUEST_MEMFD_FLAG_HUGETLB), one 1 GiB page at gpa 1 GiB and
 * four 2 MiB pages at gpa 2 GiB.  It shows the HugeTLB pools reserve the files'
 * pages at creation, hand them out when the vCPU first touches them and get
 * them back on close; the vCPU writes and reads back a value at eleven places
 * spread over the pages (real mode, reaching above 1 MiB through segment bases
 * the VMM sets); and the VM's binary stats show KVM mapping the 1 GiB page with
 * one 1 GiB mapping and each 2 MiB page with one 2 MiB mapping.
 *
 * And a fourth part, sharing 4 KiB inside a 1 GiB page: a fresh SW_PROTECTED
 * VM with the code slot and one in-place 1 GiB HugeTLB guest_memfd at gpa
 * 1 GiB.  The guest writes a 4 KiB page X and a few other places; the VMM
 * converts X alone to shared, which splits the 1 GiB folio into 2 MiB ones and
 * only X's 2 MiB folio into 4 KiB ones (gmem_splits +2), reads the guest's
 * value in X through the file's mapping and writes its own; the guest sees it,
 * and KVM maps the rest of the 1 GiB page at 2 MiB and X's 2 MiB range at
 * 4 KiB.  Converting X back to private merges both (gmem_merges +2) and the
 * next access maps the page with one 1 GiB mapping again, with every value
 * still in place.  The HugeTLB pools do not move on split or merge, and are
 * back where they started once everything is closed.
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
#include <time.h>
#include <unistd.h>

/* HugeTLB guest_memfd uAPI, for headers that predate it. */
#ifndef GUEST_MEMFD_FLAG_INIT_PRIVATE
#define GUEST_MEMFD_FLAG_INIT_PRIVATE	(1ULL << 2)
#endif
#ifndef GUEST_MEMFD_FLAG_HUGETLB
#define GUEST_MEMFD_FLAG_HUGETLB	(1ULL << 3)
#endif
#ifndef GUEST_MEMFD_HUGETLB_SIZE_SHIFT
#define GUEST_MEMFD_HUGETLB_SIZE_SHIFT	26
#endif
#ifndef GUEST_MEMFD_HUGETLB_SIZE_MASK
#define GUEST_MEMFD_HUGETLB_SIZE_MASK	0x3fULL
#endif
#ifndef GUEST_MEMFD_FLAG_HUGETLB_2MB
#define GUEST_MEMFD_FLAG_HUGETLB_2MB	(21ULL << GUEST_MEMFD_HUGETLB_SIZE_SHIFT)
#endif
#ifndef GUEST_MEMFD_FLAG_HUGETLB_1GB
#define GUEST_MEMFD_FLAG_HUGETLB_1GB	(30ULL << GUEST_MEMFD_HUGETLB_SIZE_SHIFT)
#endif
#ifndef KVM_CAP_GMEM_HUGETLB
#define KVM_CAP_GMEM_HUGETLB 253
#endif

#define PAGE_SIZE	4096UL
#define CODE_GPA	0x0UL
#define CODE_SIZE	0x10000UL
#define GMEM_GPA	0x10000UL
#define GMEM_SIZE	(16 * PAGE_SIZE)
#define REPORT_PORT	0x10

/* Part C: one 1 GiB page at gpa 1 GiB, four 2 MiB pages at gpa 2 GiB. */
#define SZ_2M		(2UL << 20)
#define SZ_1G		(1UL << 30)
#define GMEM_1G_GPA	0x40000000UL
#define GMEM_1G_SIZE	SZ_1G
#define GMEM_1G_FLAGS	(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_PRIVATE | \
			 GUEST_MEMFD_FLAG_HUGETLB | GUEST_MEMFD_FLAG_HUGETLB_1GB)
#define GMEM_2M_GPA	0x80000000UL
#define GMEM_2M_PAGES	4
#define GMEM_2M_SIZE	(GMEM_2M_PAGES * SZ_2M)

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

/*
 * The part C guest, also at CODE_GPA + 0x1000 with CS = 0, CX = the number of
 * places (set by the VMM).  Real mode reaches only 1 MiB through selectors,
 * but the CPU forms every address from the segment's hidden base, and the VMM
 * can set that to any 32-bit value with KVM_SET_SREGS; it stays as long as the
 * guest does not load DS, which this guest never does.  So the guest only
 * ever touches DS:0, and at each "out" the VMM points DS at the next place.
 * Pass 1 writes 0xc000, 0xc101, 0xc202, ... one value per place and reports
 * it; pass 2 reads every place back and reports what it finds.  All writes
 * come before any read, so two places landing on the same memory would show
 * up as a wrong value.
 */
asm(".pushsection .rodata\n"
    "hugetlb_guest_code:\n"
    ".code16\n"
    "	mov %cx, %dx\n"			/* keep the count for pass 2 */
    "	mov $0xc000, %bx\n"		/* the value for the first place */
    "1:	mov %bx, (0)\n"			/* pass 1: write it at DS:0 */
    "	mov %bx, %ax\n"
    "	out %ax, $0x10\n"		/* "wrote AX"; DS moves on */
    "	add $0x0101, %bx\n"
    "	loop 1b\n"
    "	mov %dx, %cx\n"
    "2:	mov (0), %ax\n"			/* pass 2: read DS:0 back */
    "	out %ax, $0x10\n"		/* "read AX"; DS moves on */
    "	loop 2b\n"
    "	hlt\n"
    ".code64\n"
    "hugetlb_guest_code_end:\n"
    ".popsection\n");
extern const unsigned char hugetlb_guest_code[], hugetlb_guest_code_end[];

/*
 * The part D guest, also at CODE_GPA + 0x1000 with CS = 0: one access per
 * "out", always at DS:0, whose hidden base the VMM sets as for part C.  With
 * DS, the VMM sets SI to what to do and BX to the value to write: SPLIT_READ
 * reads DS:0 and reports it; SPLIT_WRITE writes BX there first, so the report
 * is the write read back; SPLIT_HALT stops the guest.
 */
#define SPLIT_READ	0
#define SPLIT_WRITE	1
#define SPLIT_HALT	2	/* the "cmp $2" below */
asm(".pushsection .rodata\n"
    "split_guest_code:\n"
    ".code16\n"
    "1:	cmp $2, %si\n"			/* SPLIT_HALT? */
    "	je 3f\n"
    "	test %si, %si\n"		/* SPLIT_READ: no write */
    "	jz 2f\n"
    "	mov %bx, (0)\n"			/* SPLIT_WRITE: BX to DS:0 */
    "2:	mov (0), %ax\n"			/* read DS:0 */
    "	out %ax, $0x10\n"		/* "read AX"; the VMM sets DS, SI, BX */
    "	jmp 1b\n"
    "3:	hlt\n"
    ".code64\n"
    "split_guest_code_end:\n"
    ".popsection\n");
extern const unsigned char split_guest_code[], split_guest_code_end[];

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
	int run_size;
	void *code;		/* slot 0, the guest's code */
	void *shared;		/* what the gmem slot's userspace_addr points at */
};

/* A SW_PROTECTED VM with slot 0: ordinary memory holding @code at 0x1000. */
static void create_vm_code(int kvm, struct vm *v, const unsigned char *code,
			   const unsigned char *code_end)
{
	struct kvm_userspace_memory_region2 region = { 0 };

	v->vm = xioctl(kvm, KVM_CREATE_VM, (void *)KVM_X86_SW_PROTECTED_VM, "KVM_CREATE_VM");

	/* Slot 0: ordinary memory with the guest's code. */
	v->code = mmap(NULL, CODE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (v->code == MAP_FAILED)
		die("mmap code");
	memcpy((char *)v->code + 0x1000, code, code_end - code);
	region.slot = 0;
	region.guest_phys_addr = CODE_GPA;
	region.memory_size = CODE_SIZE;
	region.userspace_addr = (uintptr_t)v->code;
	xioctl(v->vm, KVM_SET_USER_MEMORY_REGION2, &region, "KVM_SET_USER_MEMORY_REGION2 (code)");
}

/* The vCPU, in real mode at 0:0x1000. */
static void create_vcpu(int kvm, struct vm *v)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	v->vcpu = xioctl(v->vm, KVM_CREATE_VCPU, NULL, "KVM_CREATE_VCPU");
	v->run_size = xioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, NULL, "KVM_GET_VCPU_MMAP_SIZE");
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
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

static void create_vm(int kvm, struct vm *v, uint64_t gmem_flags)
{
	struct kvm_create_guest_memfd cg = { .size = GMEM_SIZE, .flags = gmem_flags };
	struct kvm_userspace_memory_region2 region = { 0 };

	create_vm_code(kvm, v, guest_code, guest_code_end);

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

	create_vcpu(kvm, v);
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

/* Part C helpers: HugeTLB pools, KVM binary stats, HugeTLB guest_memfds. */

enum { POOL_2M, POOL_1G, NR_POOLS };
static const char *const pool_name[NR_POOLS] = { "2 MiB", "1 GiB" };
static const char *const pool_sysfs[NR_POOLS] = {
	"/sys/kernel/mm/hugepages/hugepages-2048kB",
	"/sys/kernel/mm/hugepages/hugepages-1048576kB",
};

struct pools {
	long free[NR_POOLS];	/* HugePages_Free: pages not allocated */
	long resv[NR_POOLS];	/* HugePages_Rsvd: promised, not yet allocated */
};

static long read_pool_file(int pool, const char *file)
{
	char path[96];
	long val;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", pool_sysfs[pool], file);
	f = fopen(path, "r");
	if (!f)
		die(path);
	if (fscanf(f, "%ld", &val) != 1) {
		fprintf(stderr, "gmem_demo: %s: not a number\n", path);
		exit(1);
	}
	fclose(f);
	return val;
}

static void read_pools(struct pools *p)
{
	int i;

	for (i = 0; i < NR_POOLS; i++) {
		p->free[i] = read_pool_file(i, "free_hugepages");
		p->resv[i] = read_pool_file(i, "resv_hugepages");
	}
}

static int pools_equal(const struct pools *a, const struct pools *b)
{
	int i;

	for (i = 0; i < NR_POOLS; i++)
		if (a->free[i] != b->free[i] || a->resv[i] != b->resv[i])
			return 0;
	return 1;
}

static void say_pool_counts(const char *label, const struct pools *p, const char *note)
{
	say("    %-22s %s %ld free, %ld rsvd;  %s %ld free, %ld rsvd%s\n", label,
	    pool_name[POOL_2M], p->free[POOL_2M], p->resv[POOL_2M],
	    pool_name[POOL_1G], p->free[POOL_1G], p->resv[POOL_1G], note);
}

/* One line of pool counters, and the expected ones below it if they differ. */
static int say_pools(const char *when, const struct pools *now,
		     const struct pools *expect, const char *note)
{
	int ok = pools_equal(now, expect);

	say_pool_counts(when, now, note);
	if (!ok)
		say_pool_counts("  !! expected", expect, "");
	return ok;
}

/*
 * The final check: freeing a HugeTLB page may be deferred to a worker, so give
 * the pools up to two seconds to come back to @start.
 */
static int wait_pools(const struct pools *start, struct pools *now)
{
	struct timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
	int i;

	for (i = 0; i < 200; i++) {
		read_pools(now);
		if (pools_equal(now, start))
			return 1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

static void xpread(int fd, void *buf, size_t len, off_t off, const char *what)
{
	ssize_t r = pread(fd, buf, len, off);

	if (r < 0)
		die(what);
	if ((size_t)r != len) {
		fprintf(stderr, "gmem_demo: %s: short read\n", what);
		exit(1);
	}
}

/*
 * One statistic, by name, from a binary stats fd (KVM_GET_STATS_FD): a
 * struct kvm_stats_header at 0, num_desc descriptors at desc_offset, each a
 * struct kvm_stats_desc followed by its name (name_size bytes), and the u64
 * values at data_offset + desc->offset.  Every read returns current values.
 */
static uint64_t read_stat(int stats_fd, const char *name)
{
	struct kvm_stats_header hdr;
	struct kvm_stats_desc desc;
	size_t stride;
	uint64_t val;
	uint32_t i;
	char *descs;

	xpread(stats_fd, &hdr, sizeof(hdr), 0, "read stats header");
	stride = sizeof(desc) + hdr.name_size;
	descs = malloc(stride * hdr.num_desc);
	if (!descs)
		die("malloc");
	xpread(stats_fd, descs, stride * hdr.num_desc, hdr.desc_offset, "read stats descriptors");
	for (i = 0; i < hdr.num_desc; i++) {
		const char *d = descs + i * stride;

		if (strncmp(d + sizeof(desc), name, hdr.name_size))
			continue;
		memcpy(&desc, d, sizeof(desc));
		xpread(stats_fd, &val, sizeof(val), (off_t)hdr.data_offset + desc.offset, "read stats data");
		free(descs);
		return val;
	}
	fprintf(stderr, "gmem_demo: the VM's binary stats have no \"%s\"\n", name);
	exit(1);
}

/* The VM's guest mappings (SPTEs) currently at each level. */
struct page_stats {
	uint64_t pages_4k, pages_2m, pages_1g;
};

static void read_page_stats(int stats_fd, struct page_stats *s)
{
	s->pages_4k = read_stat(stats_fd, "pages_4k");
	s->pages_2m = read_stat(stats_fd, "pages_2m");
	s->pages_1g = read_stat(stats_fd, "pages_1g");
}

/* One line of mapping counts, each with its change since @last. */
static void say_page_stats(const struct page_stats *now, const struct page_stats *last)
{
	say("    pages_4k %llu (%+lld), pages_2m %llu (%+lld), pages_1g %llu (%+lld)\n",
	    (unsigned long long)now->pages_4k, (long long)(now->pages_4k - last->pages_4k),
	    (unsigned long long)now->pages_2m, (long long)(now->pages_2m - last->pages_2m),
	    (unsigned long long)now->pages_1g, (long long)(now->pages_1g - last->pages_1g));
}

/* The VM's in-place conversions, and the HugeTLB folio splits and merges they made. */
struct gmem_stats {
	uint64_t conversions, splits, merges;
};

static void read_gmem_stats(int stats_fd, struct gmem_stats *s)
{
	s->conversions = read_stat(stats_fd, "gmem_conversions");
	s->splits = read_stat(stats_fd, "gmem_splits");
	s->merges = read_stat(stats_fd, "gmem_merges");
}

static void say_gmem_stats(const struct gmem_stats *now, const struct gmem_stats *last)
{
	say("    gmem_conversions %llu (%+lld), gmem_splits %llu (%+lld), gmem_merges %llu (%+lld)\n",
	    (unsigned long long)now->conversions, (long long)(now->conversions - last->conversions),
	    (unsigned long long)now->splits, (long long)(now->splits - last->splits),
	    (unsigned long long)now->merges, (long long)(now->merges - last->merges));
}

/* KVM_CAP_GMEM_HUGETLB on @vm, 0 if KVM does not know it. */
static int gmem_hugetlb_cap(int vm)
{
	int cap = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_GMEM_HUGETLB);

	return cap < 0 ? 0 : cap;
}

/* KVM_CAP_GMEM_HUGETLB is a bitmask of log2(page size): "2 MiB, 1 GiB". */
static const char *page_sizes(unsigned int mask, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB" };
	unsigned int shift;
	size_t n = 0;

	buf[0] = '\0';
	for (shift = 0; shift < 32; shift++) {
		if (!(mask & (1U << shift)))
			continue;
		n += snprintf(buf + n, len - n, "%s%lu %s", n ? ", " : "",
			      1UL << (shift % 10), unit[shift / 10]);
		if (n >= len)
			break;
	}
	if (!buf[0])
		snprintf(buf, len, "none");
	return buf;
}

/* A HugeTLB guest_memfd, its pages reserved from the pool by this call. */
static int create_hugetlb_gmem(int vm, uint64_t size, uint64_t flags, int pool)
{
	struct kvm_create_guest_memfd cg = { .size = size, .flags = flags };
	int fd = ioctl(vm, KVM_CREATE_GUEST_MEMFD, &cg);

	if (fd < 0 && errno == ENOMEM)
		fprintf(stderr, "gmem_demo: the %s HugeTLB pool cannot cover %llu MiB\n",
			pool_name[pool], (unsigned long long)(size >> 20));
	if (fd < 0)
		die("KVM_CREATE_GUEST_MEMFD (HugeTLB)");
	return fd;
}

/*
 * mmap() all of @fd, wherever the kernel puts it: private memory is mapped
 * into the guest from the file at the memslot's guest_memfd offset, so the
 * alignment of userspace_addr does not matter for it.
 */
static void *mmap_gmem(int fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		die("mmap HugeTLB guest_memfd");
	return p;
}

static void bind_gmem(int vm, uint32_t slot, uint64_t gpa, uint64_t size, int gmem, void *hva)
{
	struct kvm_userspace_memory_region2 region = {
		.slot = slot,
		.flags = KVM_MEM_GUEST_MEMFD,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
		.guest_memfd_offset = 0,
		.guest_memfd = gmem,
	};

	xioctl(vm, KVM_SET_USER_MEMORY_REGION2, &region, "KVM_SET_USER_MEMORY_REGION2 (HugeTLB gmem)");
}

/*
 * Point the guest's DS at @gpa: its hidden base (SVM runs real mode natively
 * and honours the 32-bit base in the VMCB), limit 64 KiB.  Done while the vCPU
 * sits at an "out": the next KVM_RUN completes the out and moves RIP past it,
 * as CS and RIP are left alone.
 */
static void set_ds_base(int vcpu, uint64_t gpa)
{
	struct kvm_sregs sregs;

	xioctl(vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	sregs.ds.base = gpa;
	sregs.ds.limit = 0xffff;
	xioctl(vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
}

/* Where the part C guest writes and reads, in the order it does. */
static const struct place {
	const char *what;
	uint64_t gpa;
} places[] = {
	{ "1 GiB page   + 0",          GMEM_1G_GPA },
	{ "1 GiB page   + 0x100000",   GMEM_1G_GPA + 0x100000 },
	{ "1 GiB page   + 0x3ff00000", GMEM_1G_GPA + 0x3ff00000 },
	{ "2 MiB page 0 + 0",          GMEM_2M_GPA + 0 * SZ_2M },
	{ "2 MiB page 0 + 0x1ff000",   GMEM_2M_GPA + 0 * SZ_2M + 0x1ff000 },
	{ "2 MiB page 1 + 0",          GMEM_2M_GPA + 1 * SZ_2M },
	{ "2 MiB page 1 + 0x1ff000",   GMEM_2M_GPA + 1 * SZ_2M + 0x1ff000 },
	{ "2 MiB page 2 + 0",          GMEM_2M_GPA + 2 * SZ_2M },
	{ "2 MiB page 2 + 0x1ff000",   GMEM_2M_GPA + 2 * SZ_2M + 0x1ff000 },
	{ "2 MiB page 3 + 0",          GMEM_2M_GPA + 3 * SZ_2M },
	{ "2 MiB page 3 + 0x1ff000",   GMEM_2M_GPA + 3 * SZ_2M + 0x1ff000 },
};
#define NR_PLACES	(sizeof(places) / sizeof(places[0]))

/* What the part C guest writes at places[i]. */
static uint16_t place_value(unsigned int i)
{
	return 0xc000 + 0x0101 * i;
}

/* Part C: HugeTLB-backed private memory. */
static void hugetlb(int kvm)
{
	const uint64_t flags_1g = GMEM_1G_FLAGS;
	const uint64_t flags_2m = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_PRIVATE |
				  GUEST_MEMFD_FLAG_HUGETLB | GUEST_MEMFD_FLAG_HUGETLB_2MB;
	uint16_t wrote[NR_PLACES], got[NR_PLACES];
	int gmem_1g, gmem_2m, stats_fd, cap;
	struct page_stats before, after;
	struct pools start, now, expect;
	int failed = 0, bad_values = 0;
	void *map_1g, *map_2m;
	struct kvm_regs regs;
	char sizes[64];
	unsigned int i;
	struct vm v;

	say("\n-- C. HugeTLB-backed private memory (guest_memfd with HUGETLB) --\n");
	create_vm_code(kvm, &v, hugetlb_guest_code, hugetlb_guest_code_end);
	cap = gmem_hugetlb_cap(v.vm);
	say("C1. A SW_PROTECTED VM with the same code slot.  KVM_CAP_GMEM_HUGETLB on it:\n"
	    "    0x%x, HugeTLB guest_memfd page sizes %s.\n",
	    cap, page_sizes(cap, sizes, sizeof(sizes)));
	if (!(cap & (1U << 21)) || !(cap & (1U << 30))) {
		fprintf(stderr, "gmem_demo: part C needs HugeTLB guest_memfd with 2 MiB and 1 GiB pages\n");
		exit(1);
	}
	read_pools(&start);
	say_pools("pools at the start:", &start, &start, "");

	gmem_1g = create_hugetlb_gmem(v.vm, GMEM_1G_SIZE, flags_1g, POOL_1G);
	map_1g = mmap_gmem(gmem_1g, GMEM_1G_SIZE);
	bind_gmem(v.vm, 1, GMEM_1G_GPA, GMEM_1G_SIZE, gmem_1g, map_1g);
	gmem_2m = create_hugetlb_gmem(v.vm, GMEM_2M_SIZE, flags_2m, POOL_2M);
	map_2m = mmap_gmem(gmem_2m, GMEM_2M_SIZE);
	bind_gmem(v.vm, 2, GMEM_2M_GPA, GMEM_2M_SIZE, gmem_2m, map_2m);
	say("C2. Two guest_memfds, flags MMAP | INIT_PRIVATE | HUGETLB | HUGETLB_<size>:\n"
	    "    one 1 GiB page (flags 0x%llx), slot 1 at gpa 0x%lx, and\n"
	    "    four 2 MiB pages (flags 0x%llx), slot 2 at gpa 0x%lx.\n"
	    "    Private from creation, the files own the state: no KVM_SET_MEMORY_ATTRIBUTES.\n"
	    "    Each is mmap()ed as its slot's userspace_addr, at no particular alignment\n"
	    "    (private memory comes from the file, not from userspace_addr), and never\n"
	    "    touched: private memory would SIGBUS.\n",
	    (unsigned long long)flags_1g, GMEM_1G_GPA, (unsigned long long)flags_2m, GMEM_2M_GPA);
	read_pools(&now);
	expect = start;
	expect.resv[POOL_1G] += 1;
	expect.resv[POOL_2M] += GMEM_2M_PAGES;
	say_pools("pools after creating:", &now, &expect, "  (reserved)");

	create_vcpu(kvm, &v);
	xioctl(v.vcpu, KVM_GET_REGS, &regs, "KVM_GET_REGS");
	regs.rcx = NR_PLACES;
	xioctl(v.vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");
	stats_fd = xioctl(v.vm, KVM_GET_STATS_FD, NULL, "KVM_GET_STATS_FD");
	read_page_stats(stats_fd, &before);

	/*
	 * Every "out" reports the access the guest just made at DS:0; the VMM
	 * then moves DS to the next place, wrapping from pass 1 to pass 2.
	 */
	set_ds_base(v.vcpu, places[0].gpa);
	for (i = 0; i < NR_PLACES; i++) {
		wrote[i] = step(&v);
		set_ds_base(v.vcpu, places[(i + 1) % NR_PLACES].gpa);
	}
	for (i = 0; i < NR_PLACES; i++) {
		got[i] = step(&v);
		if (i + 1 < NR_PLACES)
			set_ds_base(v.vcpu, places[i + 1].gpa);
	}
	finish(&v);

	say("C3. The vCPU (real mode; the VMM sets DS's hidden base with KVM_SET_SREGS at\n"
	    "    each out) writes a value at %zu places, then reads every one back:\n", NR_PLACES);
	say("    %-26s %-10s  %-6s  %s\n", "place", "gpa", "wrote", "read");
	for (i = 0; i < NR_PLACES; i++) {
		int ok = wrote[i] == place_value(i) && got[i] == place_value(i);

		say("    %-26s 0x%08llx  0x%04x  0x%04x%s\n", places[i].what,
		    (unsigned long long)places[i].gpa, wrote[i], got[i],
		    ok ? "" : "  <- wrong");
		if (!ok) {
			fprintf(stderr, "gmem_demo: at gpa 0x%llx the guest wrote 0x%04x and read "
				"0x%04x, expected 0x%04x\n", (unsigned long long)places[i].gpa,
				wrote[i], got[i], place_value(i));
			bad_values++;
		}
	}
	if (bad_values)
		failed++;
	read_pools(&now);
	expect = start;
	expect.free[POOL_1G] -= 1;
	expect.free[POOL_2M] -= GMEM_2M_PAGES;
	say_pools("pools after the run:", &now, &expect, "  (allocated)");

	read_page_stats(stats_fd, &after);
	say("C4. KVM's mappings of guest memory (VM binary stats), after the run (change):\n");
	say_page_stats(&after, &before);
	say("    Expected: the 1 GiB page in one 1 GiB mapping, each touched 2 MiB page in\n"
	    "    one 2 MiB mapping (pages_1g +1, pages_2m +%d), 4 KiB ones for the code.\n",
	    GMEM_2M_PAGES);
	if (after.pages_1g - before.pages_1g != 1) {
		fprintf(stderr, "gmem_demo: pages_1g grew by %lld, not 1: the 1 GiB page is "
			"not mapped with one 1 GiB mapping\n",
			(long long)(after.pages_1g - before.pages_1g));
		failed++;
	}
	if (after.pages_2m - before.pages_2m != GMEM_2M_PAGES) {
		fprintf(stderr, "gmem_demo: pages_2m grew by %lld, not %d: the 2 MiB pages are "
			"not mapped with one 2 MiB mapping each\n",
			(long long)(after.pages_2m - before.pages_2m), GMEM_2M_PAGES);
		failed++;
	}

	if (munmap(v.run, v.run_size) || munmap(map_1g, GMEM_1G_SIZE) ||
	    munmap(map_2m, GMEM_2M_SIZE) || munmap(v.code, CODE_SIZE))
		die("munmap");
	if (close(v.vcpu) || close(stats_fd) || close(gmem_1g) || close(gmem_2m) || close(v.vm))
		die("close");
	wait_pools(&start, &now);
	say("C5. Everything unmapped and closed (guest_memfds, vCPU, stats fd, VM):\n");
	if (!say_pools("pools at the end:", &now, &start, "  (back to the start)")) {
		fprintf(stderr, "gmem_demo: the HugeTLB pools are not back to the start: "
			"pages leaked or still reserved\n");
		failed++;
	}
	if (failed) {
		fprintf(stderr, "gmem_demo: part C failed (%d of 4 checks)\n", failed);
		exit(1);
	}
}

/*
 * Part D: the 4 KiB page X of the 1 GiB page that gets shared, and the places
 * the guest writes and reads around it, as offsets into the 1 GiB page.  X's
 * 2 MiB range is 145; the others are each in a 2 MiB range of their own.
 */
#define SPLIT_X		(0x12345000UL & ~(PAGE_SIZE - 1))
#define SPLIT_X_2M	(SPLIT_X & ~(SZ_2M - 1))
_Static_assert((SPLIT_X + PAGE_SIZE) / SZ_2M == SPLIT_X / SZ_2M &&
	       SPLIT_X_2M >= 2 * SZ_2M && SPLIT_X_2M + 2 * SZ_2M <= SZ_1G / 2,
	       "X's neighbour must share its 2 MiB range, and the ranges below and above it "
	       "must be clear of ranges 0 and halfway");

enum { D_X, D_NEAR, D_OTHER, D_BELOW, D_ABOVE, D_HALF, D_LAST, NR_DPLACES };
static const struct dplace {
	const char *what;
	uint64_t off;
} dplaces[NR_DPLACES] = {
	[D_X]     = { "X",                          SPLIT_X },
	[D_NEAR]  = { "X + 4 KiB, same 2 MiB range", SPLIT_X + PAGE_SIZE },
	[D_OTHER] = { "another 2 MiB range",        0 },
	[D_BELOW] = { "the 2 MiB range below X's",  SPLIT_X_2M - PAGE_SIZE },
	[D_ABOVE] = { "the 2 MiB range above X's",  SPLIT_X_2M + SZ_2M },
	[D_HALF]  = { "a 2 MiB range halfway",      SZ_1G / 2 },
	[D_LAST]  = { "the last 2 MiB range",       SZ_1G - PAGE_SIZE },
};

/* One access of the part D guest: a read, or a write of val then a read back. */
struct daccess {
	int place, write;
	uint16_t val;
};

/*
 * Have the guest make @n accesses, printing each, and check what it read
 * against @mem, what every place should hold (updated by the writes).  Done
 * while the vCPU sits at an "out" (or has not run yet): as with
 * set_ds_base(), KVM_SET_REGS leaves RIP alone, so the next KVM_RUN completes
 * the out.  Return: the number of wrong values.
 */
static int split_run(struct vm *v, uint16_t *mem, const struct daccess *acc, unsigned int n)
{
	struct kvm_regs regs;
	unsigned int i;
	int bad = 0;

	say("    %-5s  %-27s  %-11s  %-8s  %-6s  %s\n",
	    "", "place", "offset", "2M range", "wrote", "read");
	for (i = 0; i < n; i++) {
		const struct dplace *p = &dplaces[acc[i].place];
		char wrote[8] = "-";
		uint16_t got;

		set_ds_base(v->vcpu, GMEM_1G_GPA + p->off);
		xioctl(v->vcpu, KVM_GET_REGS, &regs, "KVM_GET_REGS");
		regs.rsi = acc[i].write ? SPLIT_WRITE : SPLIT_READ;
		regs.rbx = acc[i].val;
		xioctl(v->vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");
		got = step(v);

		if (acc[i].write) {
			mem[acc[i].place] = acc[i].val;
			snprintf(wrote, sizeof(wrote), "0x%04x", acc[i].val);
		}
		say("    %-5s  %-27s  +0x%08llx  %8llu  %-6s  0x%04x%s\n",
		    acc[i].write ? "write" : "read", p->what, (unsigned long long)p->off,
		    (unsigned long long)(p->off / SZ_2M), wrote, got,
		    got == mem[acc[i].place] ? "" : "  <- wrong");
		if (got != mem[acc[i].place]) {
			fprintf(stderr, "gmem_demo: at +0x%llx of the 1 GiB page (gpa 0x%llx) the guest "
				"read 0x%04x, expected 0x%04x\n", (unsigned long long)p->off,
				(unsigned long long)(GMEM_1G_GPA + p->off), got, mem[acc[i].place]);
			bad++;
		}
	}
	return bad;
}

/* Stop the part D guest, which sits at an "out". */
static void split_halt(struct vm *v)
{
	struct kvm_regs regs;

	xioctl(v->vcpu, KVM_GET_REGS, &regs, "KVM_GET_REGS");
	regs.rsi = SPLIT_HALT;
	xioctl(v->vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");
	finish(v);
}

#define SPLIT_CHECKS	7

/* Part D: sharing 4 KiB inside a 1 GiB page. */
static void split_1g(int kvm)
{
	/* D2: X, its neighbour and a page of another 2 MiB range. */
	static const struct daccess fill[] = {
		{ D_X, 1, 0xd000 }, { D_NEAR, 1, 0xd101 }, { D_OTHER, 1, 0xd202 },
	};
	/* D4: X (the VMM's value), the others again, four more 2 MiB ranges. */
	static const struct daccess shared[] = {
		{ D_X, 0, 0 },
		{ D_NEAR, 0, 0 }, { D_NEAR, 1, 0xd303 },
		{ D_OTHER, 0, 0 }, { D_OTHER, 1, 0xd404 },
		{ D_BELOW, 1, 0xd505 }, { D_ABOVE, 1, 0xd606 },
		{ D_HALF, 1, 0xd707 }, { D_LAST, 1, 0xd808 },
	};
	/* D6: everything, private again. */
	static const struct daccess again[] = {
		{ D_X, 0, 0 }, { D_NEAR, 0, 0 }, { D_OTHER, 0, 0 }, { D_BELOW, 0, 0 },
		{ D_ABOVE, 0, 0 }, { D_HALF, 0, 0 }, { D_LAST, 0, 0 },
	};
	const uint16_t vmm_val = 0xcafe;
	uint16_t mem[NR_DPLACES] = { 0 };	/* what each place should hold */
	struct page_stats base, last, now;
	struct gmem_stats glast, gnow;
	struct pools start, pools, expect, held;
	int gmem, stats_fd, nr_other = 0;
	int failed = 0, bad_values = 0;
	long long file_1g;
	uint16_t *x, val;
	unsigned int i;
	void *map;
	struct vm v;

	for (i = 0; i < NR_DPLACES; i++)
		if (dplaces[i].off / SZ_2M != SPLIT_X / SZ_2M)
			nr_other++;

	say("\n-- D. Sharing 4 KiB inside a 1 GiB page (in-place HugeTLB guest_memfd) --\n");
	create_vm_code(kvm, &v, split_guest_code, split_guest_code_end);
	if (!(gmem_hugetlb_cap(v.vm) & (1U << 30))) {
		fprintf(stderr, "gmem_demo: part D needs HugeTLB guest_memfd with 1 GiB pages\n");
		exit(1);
	}
	read_pools(&start);
	gmem = create_hugetlb_gmem(v.vm, GMEM_1G_SIZE, GMEM_1G_FLAGS, POOL_1G);
	map = mmap_gmem(gmem, GMEM_1G_SIZE);
	bind_gmem(v.vm, 1, GMEM_1G_GPA, GMEM_1G_SIZE, gmem, map);
	create_vcpu(kvm, &v);
	stats_fd = xioctl(v.vm, KVM_GET_STATS_FD, NULL, "KVM_GET_STATS_FD");
	say("D1. A fresh SW_PROTECTED VM with the same code slot and one 1 GiB page in an\n"
	    "    in-place, all-private HugeTLB guest_memfd (flags 0x%llx), slot 1 at gpa\n"
	    "    0x%lx, mmap()ed as its userspace_addr.  The page to share, X, is at\n"
	    "    +0x%lx, in the 1 GiB page's 2 MiB range %lu.\n",
	    (unsigned long long)GMEM_1G_FLAGS, GMEM_1G_GPA, SPLIT_X, SPLIT_X / SZ_2M);
	say_pools("pools at the start:", &start, &start, "");
	read_pools(&pools);
	expect = start;
	expect.resv[POOL_1G] += 1;
	say_pools("pools after creating:", &pools, &expect, "  (reserved)");

	read_page_stats(stats_fd, &base);
	read_gmem_stats(stats_fd, &glast);
	say("D2. The vCPU (DS's hidden base set by the VMM at each out, as in part C) writes\n"
	    "    X, its neighbour and a page of another 2 MiB range, reading each back:\n");
	bad_values += split_run(&v, mem, fill, sizeof(fill) / sizeof(fill[0]));
	read_page_stats(stats_fd, &now);
	read_gmem_stats(stats_fd, &gnow);
	say("    KVM's mappings (change since before the run), and the conversion counters:\n");
	say_page_stats(&now, &base);
	say_gmem_stats(&gnow, &glast);
	say("    Expected: the whole 1 GiB page in one 1 GiB mapping (pages_1g +1), 4 KiB\n"
	    "    for the code, nothing split yet.\n");
	last = now;
	glast = gnow;
	read_pools(&held);
	expect = start;
	expect.free[POOL_1G] -= 1;
	say_pools("pools after the run:", &held, &expect, "  (allocated)");

	xconvert(gmem, SPLIT_X, PAGE_SIZE, 0);
	read_gmem_stats(stats_fd, &gnow);
	read_page_stats(stats_fd, &now);
	say("D3. KVM_GMEM_CONVERT_SHARED of X alone (4 KiB at +0x%lx):\n", SPLIT_X);
	say_gmem_stats(&gnow, &glast);
	say("    Expected gmem_splits +2: the 1 GiB folio into 512 2 MiB folios, then only\n"
	    "    X's 2 MiB folio into 4 KiB folios.\n");
	if (gnow.splits - glast.splits != 2) {
		fprintf(stderr, "gmem_demo: sharing X made %lld splits, not 2\n",
			(long long)(gnow.splits - glast.splits));
		failed++;
	}
	say_page_stats(&now, &last);
	say("    Expected: the 1 GiB mapping, which covered X, zapped (pages_1g -1).\n");
	last = now;
	glast = gnow;
	read_pools(&pools);
	if (!say_pools("pools after sharing:", &pools, &held, "  (unchanged by the split)")) {
		fprintf(stderr, "gmem_demo: the HugeTLB pools changed when the 1 GiB page was split\n");
		failed++;
	}
	x = (uint16_t *)((char *)map + SPLIT_X);
	val = *x;
	say("    The VMM reads 0x%04x at X through the file's mapping: %s\n", val,
	    val == mem[D_X] ? "what the guest wrote, in place." : "not what the guest wrote!");
	if (val != mem[D_X]) {
		fprintf(stderr, "gmem_demo: the VMM read 0x%04x in X through the mapping, the "
			"guest wrote 0x%04x\n", val, mem[D_X]);
		bad_values++;
	}
	*x = vmm_val;
	mem[D_X] = vmm_val;
	say("    It writes 0x%04x there.  The rest of X's 2 MiB range is private still: the\n"
	    "    VMM does not touch it (an access through the mapping would SIGBUS).\n", vmm_val);

	say("D4. The vCPU reads X, reads and rewrites the other two places, and writes a page\n"
	    "    in each of four more 2 MiB ranges:\n");
	bad_values += split_run(&v, mem, shared, sizeof(shared) / sizeof(shared[0]));
	read_page_stats(stats_fd, &now);
	read_gmem_stats(stats_fd, &gnow);
	file_1g = (long long)(now.pages_1g - base.pages_1g);
	say_page_stats(&now, &last);
	say_gmem_stats(&gnow, &glast);
	say("    Expected: the %d other 2 MiB ranges touched mapped at 2 MiB each (pages_2m\n"
	    "    +%d), X's 2 MiB range at 4 KiB (X and its neighbour, pages_4k +2), and no\n"
	    "    1 GiB mapping of the file any more: it has %lld.\n", nr_other, nr_other, file_1g);
	last = now;
	glast = gnow;

	xconvert(gmem, SPLIT_X, PAGE_SIZE, 1);
	read_gmem_stats(stats_fd, &gnow);
	read_page_stats(stats_fd, &now);
	say("D5. KVM_GMEM_CONVERT_PRIVATE of X (which also unmaps it from the VMM):\n");
	say_gmem_stats(&gnow, &glast);
	say("    Expected gmem_merges +2: X's 2 MiB range back into one 2 MiB folio, then\n"
	    "    the 512 2 MiB folios back into the 1 GiB HugeTLB folio, its vmemmap\n"
	    "    optimized again.\n");
	if (gnow.merges - glast.merges != 2) {
		fprintf(stderr, "gmem_demo: making X private again made %lld merges, not 2\n",
			(long long)(gnow.merges - glast.merges));
		failed++;
	}
	say_page_stats(&now, &last);
	say("    Expected: all of KVM's mappings of the 1 GiB page zapped (pages_4k -2,\n"
	    "    pages_2m -%d), so that the next access can map it whole.\n", nr_other);
	last = now;
	glast = gnow;
	read_pools(&pools);
	if (!say_pools("pools after unsharing:", &pools, &held, "  (unchanged by the merge)")) {
		fprintf(stderr, "gmem_demo: the HugeTLB pools changed when the 1 GiB page was merged\n");
		failed++;
	}

	say("D6. The vCPU reads every place again:\n");
	bad_values += split_run(&v, mem, again, sizeof(again) / sizeof(again[0]));
	split_halt(&v);
	read_page_stats(stats_fd, &now);
	file_1g = (long long)(now.pages_1g - base.pages_1g);
	say_page_stats(&now, &last);
	say("    The file's 1 GiB mappings: %lld.  Expected 1: the merged 1 GiB page mapped\n"
	    "    whole again, the guest's and the VMM's data in place.\n", file_1g);
	if (file_1g != 1) {
		fprintf(stderr, "gmem_demo: after the merge the file has %lld 1 GiB mappings, not 1\n",
			file_1g);
		failed++;
	}
	if (bad_values)
		failed++;

	if (munmap(v.run, v.run_size) || munmap(map, GMEM_1G_SIZE) || munmap(v.code, CODE_SIZE))
		die("munmap");
	if (close(v.vcpu) || close(stats_fd) || close(gmem) || close(v.vm))
		die("close");
	wait_pools(&start, &pools);
	say("D7. Everything unmapped and closed (guest_memfd, vCPU, stats fd, VM):\n");
	if (!say_pools("pools at the end:", &pools, &start, "  (back to the start)")) {
		fprintf(stderr, "gmem_demo: the HugeTLB pools are not back to the start: "
			"pages leaked or still reserved\n");
		failed++;
	}
	if (failed) {
		fprintf(stderr, "gmem_demo: part D failed (%d of %d checks)\n", failed, SPLIT_CHECKS);
		exit(1);
	}
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
	hugetlb(kvm);
	split_1g(kvm);
	say("\nDone: in place, sharing a page keeps its data and needs no second copy;\n"
	    "      HugeTLB-backed private memory is mapped 2 MiB and 1 GiB at a time;\n"
	    "      sharing 4 KiB of a 1 GiB page splits only what it must, and merges back.\n");
	return 0;
}
