// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_convert_bench: the cost of converting guest_memfd pages between
 * private and shared, in place (KVM_GMEM_CONVERT_*) versus the base kernel's
 * destructive path (KVM_SET_MEMORY_ATTRIBUTES + FALLOC_FL_PUNCH_HOLE of the
 * side losing the page), in the same run.  Each round converts a set of pages
 * private -> shared -> private and re-faults them into the guest's page
 * tables with KVM_PRE_FAULT_MEMORY after each step.  Times under emulation are
 * meaningless; only the ratios are reported.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE_SIZE	4096UL
#define GPA		0x100000000UL
#define ROUNDS		3

static void die(const char *what)
{
	fprintf(stderr, "gmem_convert_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

struct setup {
	int vm, vcpu, gmem;
	char *shared;
	uint64_t npages;
	int inplace;
};

static void create(int kvm, struct setup *s, uint64_t npages, int inplace)
{
	struct kvm_create_guest_memfd cg = {
		.size = npages * PAGE_SIZE,
		.flags = inplace ? GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_PRIVATE : 0,
	};
	struct kvm_userspace_memory_region2 r = { 0 };
	struct kvm_memory_attributes attr = {
		.address = GPA, .size = npages * PAGE_SIZE,
		.attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE,
	};

	s->npages = npages;
	s->inplace = inplace;
	s->vm = ioctl(kvm, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	if (s->vm < 0)
		die("KVM_CREATE_VM");
	s->gmem = ioctl(s->vm, KVM_CREATE_GUEST_MEMFD, &cg);
	if (s->gmem < 0)
		die("KVM_CREATE_GUEST_MEMFD");
	s->shared = mmap(NULL, npages * PAGE_SIZE, PROT_READ | PROT_WRITE,
			 inplace ? MAP_SHARED : MAP_SHARED | MAP_ANONYMOUS,
			 inplace ? s->gmem : -1, 0);
	if (s->shared == MAP_FAILED)
		die("mmap");
	r.slot = 0;
	r.flags = KVM_MEM_GUEST_MEMFD;
	r.guest_phys_addr = GPA;
	r.memory_size = npages * PAGE_SIZE;
	r.userspace_addr = (uintptr_t)s->shared;
	r.guest_memfd = s->gmem;
	if (ioctl(s->vm, KVM_SET_USER_MEMORY_REGION2, &r))
		die("KVM_SET_USER_MEMORY_REGION2");
	if (!inplace && ioctl(s->vm, KVM_SET_MEMORY_ATTRIBUTES, &attr))
		die("KVM_SET_MEMORY_ATTRIBUTES");
	s->vcpu = ioctl(s->vm, KVM_CREATE_VCPU, 0);
	if (s->vcpu < 0)
		die("KVM_CREATE_VCPU");
}

static void destroy(struct setup *s)
{
	munmap(s->shared, s->npages * PAGE_SIZE);
	close(s->vcpu);
	close(s->gmem);
	close(s->vm);
}

static void prefault(struct setup *s, uint64_t page, uint64_t n)
{
	struct kvm_pre_fault_memory pf = {
		.gpa = GPA + page * PAGE_SIZE, .size = n * PAGE_SIZE,
	};

	while (pf.size && (!ioctl(s->vcpu, KVM_PRE_FAULT_MEMORY, &pf) || errno == EINTR))
		;
}

static void convert(struct setup *s, uint64_t page, uint64_t n, int to_private)
{
	uint64_t off = page * PAGE_SIZE, len = n * PAGE_SIZE, i;

	if (s->inplace) {
		struct kvm_gmem_convert c = { .offset = off, .size = len };

		if (ioctl(s->gmem, to_private ? KVM_GMEM_CONVERT_PRIVATE :
						KVM_GMEM_CONVERT_SHARED, &c))
			die("KVM_GMEM_CONVERT");
	} else {
		struct kvm_memory_attributes attr = {
			.address = GPA + off, .size = len,
			.attributes = to_private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
		};

		if (ioctl(s->vm, KVM_SET_MEMORY_ATTRIBUTES, &attr))
			die("KVM_SET_MEMORY_ATTRIBUTES");
		/* The side that loses the page throws it away. */
		if (to_private) {
			if (madvise(s->shared + off, len, MADV_DONTNEED))
				die("madvise");
		} else if (fallocate(s->gmem, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
				     off, len)) {
			die("fallocate");
		}
	}
	if (!to_private)	/* the VMM touches what it shared */
		for (i = 0; i < n; i++)
			s->shared[off + i * PAGE_SIZE] = 1;
	prefault(s, page, n);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Convert @n pages shared and back, ROUNDS times: contiguous pages with one
 * call per direction, scattered ones (every other page) with one call each.
 */
static double run(int kvm, uint64_t n, uint64_t stride, int inplace)
{
	struct setup s;
	uint64_t i;
	double t;
	int round;

	create(kvm, &s, n * stride, inplace);
	prefault(&s, 0, n * stride);
	t = now();
	for (round = 0; round < ROUNDS; round++) {
		if (stride == 1) {
			convert(&s, 0, n, 0);
			convert(&s, 0, n, 1);
			continue;
		}
		for (i = 0; i < n; i++)
			convert(&s, i * stride, 1, 0);
		for (i = 0; i < n; i++)
			convert(&s, i * stride, 1, 1);
	}
	t = now() - t;
	destroy(&s);
	return t;
}

int main(void)
{
	static const uint64_t counts[] = { 1, 64, 4096 };
	int kvm = open("/dev/kvm", O_RDWR);
	unsigned int c, stride;

	if (kvm < 0)
		die("/dev/kvm");
	printf("%-6s %-10s %14s\n", "pages", "layout", "base/in-place");
	for (c = 0; c < 3; c++) {
		for (stride = 1; stride <= 2; stride++) {
			double base = run(kvm, counts[c], stride, 0);
			double inplace = run(kvm, counts[c], stride, 1);

			printf("%-6lu %-10s %13.2fx\n", (unsigned long)counts[c],
			       stride == 1 ? "contiguous" : "scattered", base / inplace);
		}
	}
	return 0;
}
