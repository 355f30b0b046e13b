// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_convert_bench: the cost of converting guest_memfd pages between
 * private and shared.  Times under emulation are meaningless; only counts
 * and ratios are reported.  Raw KVM ioctls, no library.
 *
 * Part 1: in place (KVM_GMEM_CONVERT_*) versus the base kernel's destructive
 * path (KVM_SET_MEMORY_ATTRIBUTES + FALLOC_FL_PUNCH_HOLE of the side losing
 * the page), in the same run.  Each round converts a set of pages
 * private -> shared -> private and re-faults them into the guest's page
 * tables with KVM_PRE_FAULT_MEMORY after each step.
 *
 * Part 2: 4 KiB conversions inside HugeTLB-backed in-place files
 * (GUEST_MEMFD_FLAG_HUGETLB with a 2M or 1G page size, MMAP | INIT_PRIVATE on
 * a SW_PROTECTED VM), read through the VM's binary stats (gmem_conversions,
 * gmem_splits, gmem_merges, pages_4k/2m/1g):
 *  - a boot-like pattern, on a 256 MiB 2M-backed file and on a 1 GiB
 *    1G-backed file, each in a VM of its own: pre-fault all of it private,
 *    share BOOT_SHARED scattered 4K pages one at a time (the VMM writes to
 *    each), convert 90% of them back, pre-fault the file again.  Printed: the
 *    conversions, splits and merges against what a model of "split only as
 *    needed, merge as soon as possible" expects, how many 2M ranges still hold
 *    a shared page, and how the file's private memory ends up mapped (1G / 2M
 *    / 4K), measured and ideal;
 *  - the cost of TRIPS round trips (share one 4K page, make it private
 *    again) at scattered offsets, one per 2M range, each with the page mapped
 *    private at the file's page size beforehand: 2M- and 1G-backed files
 *    against a 4K-backed in-place file, as time ratios, with the splits and
 *    merges per round trip.
 * A summary block at the end repeats the results of both parts.
 *
 * Usage: gmem_convert_bench [1|2]  (default: both parts).
 * Part 2 needs free HugeTLB pages: 256 MiB of 2M pages and one 1G page.
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
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* The uAPI, for installed headers that predate it. */
#ifndef GUEST_MEMFD_FLAG_MMAP
#define GUEST_MEMFD_FLAG_MMAP		(1ULL << 0)
#endif
#ifndef GUEST_MEMFD_FLAG_INIT_PRIVATE
#define GUEST_MEMFD_FLAG_INIT_PRIVATE	(1ULL << 2)
#endif
#ifndef GUEST_MEMFD_FLAG_HUGETLB
#define GUEST_MEMFD_FLAG_HUGETLB	(1ULL << 3)
#endif
#ifndef GUEST_MEMFD_FLAG_HUGETLB_2MB
#define GUEST_MEMFD_FLAG_HUGETLB_2MB	(21ULL << 26)
#endif
#ifndef GUEST_MEMFD_FLAG_HUGETLB_1GB
#define GUEST_MEMFD_FLAG_HUGETLB_1GB	(30ULL << 26)
#endif
#ifndef KVM_GMEM_CONVERT_SHARED
struct kvm_gmem_convert {
	__u64 offset;
	__u64 size;
	__u64 error_offset;
	__u64 reserved[5];
};

#define KVM_GMEM_CONVERT_SHARED		_IOWR(KVMIO, 0xd6, struct kvm_gmem_convert)
#define KVM_GMEM_CONVERT_PRIVATE	_IOWR(KVMIO, 0xd7, struct kvm_gmem_convert)
#endif

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

/* ---- part 2: 4 KiB conversions in HugeTLB-backed files --------------- */

#define SZ_2M		(2UL << 20)
#define SZ_1G		(1UL << 30)
#define PAGES_PER_2M	(SZ_2M / PAGE_SIZE)
/* The 2M-backed and 4K-backed files; the 1G-backed one is one 1G page. */
#define SMALL_FILE	(256UL << 20)
#define BOOT_SHARED	300
#define BOOT_BACK	(BOOT_SHARED * 9 / 10)
#define TRIPS		100
#define SEED		0x6d656d66645f6232ULL
/* Tries of a conversion that fails with EAGAIN (transient references). */
#define EAGAIN_TRIES	100

static void fail(const char *what)
{
	fprintf(stderr, "gmem_convert_bench: %s\n", what);
	exit(1);
}

static uint64_t rng_state;

static uint64_t rnd(void)	/* splitmix64 */
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The VM's binary stats that part 2 reads (KVM_GET_STATS_FD). */
enum { ST_CONV, ST_SPLIT, ST_MERGE, ST_4K, ST_2M, ST_1G, NR_ST };
static const char *const stat_names[NR_ST] = {
	"gmem_conversions", "gmem_splits", "gmem_merges",
	"pages_4k", "pages_2m", "pages_1g",
};

struct vmstats {
	int fd;
	uint64_t pos[NR_ST];	/* of each value in the stats file */
};

static void stats_open(struct vmstats *st, int vm)
{
	struct kvm_stats_header h;
	unsigned int found = 0, i, j;
	size_t dsz;
	char *buf;

	st->fd = ioctl(vm, KVM_GET_STATS_FD, NULL);
	if (st->fd < 0)
		die("KVM_GET_STATS_FD");
	if (pread(st->fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		die("read of the stats header");
	dsz = sizeof(struct kvm_stats_desc) + h.name_size;
	buf = calloc(h.num_desc, dsz);
	if (!buf)
		die("calloc");
	if (pread(st->fd, buf, h.num_desc * dsz, h.desc_offset) != (ssize_t)(h.num_desc * dsz))
		die("read of the stats descriptors");
	for (i = 0; i < h.num_desc; i++) {
		struct kvm_stats_desc *d = (struct kvm_stats_desc *)(buf + i * dsz);

		for (j = 0; j < NR_ST; j++) {
			if (strncmp(d->name, stat_names[j], h.name_size))
				continue;
			st->pos[j] = (uint64_t)h.data_offset + d->offset;
			found |= 1U << j;
		}
	}
	free(buf);
	for (j = 0; j < NR_ST; j++) {
		if (!(found & (1U << j))) {
			fprintf(stderr, "gmem_convert_bench: the VM has no stat %s\n",
				stat_names[j]);
			exit(1);
		}
	}
}

static void stats_read(const struct vmstats *st, uint64_t v[NR_ST])
{
	int j;

	for (j = 0; j < NR_ST; j++)
		if (pread(st->fd, &v[j], sizeof(v[j]), st->pos[j]) != (ssize_t)sizeof(v[j]))
			die("read of a stat");
}

/* An in-place file of @size with folios of @huge (4K, 2M or 1G) in a VM. */
struct hfile {
	int vm, vcpu, gmem;
	struct vmstats st;
	char *map;
	uint64_t size, huge;
	uint64_t base[NR_ST];	/* the stats with the vCPU set up, nothing mapped */
};

static const char *size_name(uint64_t sz)
{
	return sz == SZ_1G ? "1G" : sz == SZ_2M ? "2M" : "4K";
}

static void hcreate(int kvm, struct hfile *f, uint64_t size, uint64_t huge)
{
	struct kvm_create_guest_memfd cg = {
		.size = size,
		.flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_PRIVATE,
	};
	struct kvm_userspace_memory_region2 r = { 0 };

	if (huge == SZ_2M)
		cg.flags |= GUEST_MEMFD_FLAG_HUGETLB | GUEST_MEMFD_FLAG_HUGETLB_2MB;
	else if (huge == SZ_1G)
		cg.flags |= GUEST_MEMFD_FLAG_HUGETLB | GUEST_MEMFD_FLAG_HUGETLB_1GB;
	f->size = size;
	f->huge = huge;
	f->vm = ioctl(kvm, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	if (f->vm < 0)
		die("KVM_CREATE_VM");
	f->gmem = ioctl(f->vm, KVM_CREATE_GUEST_MEMFD, &cg);
	if (f->gmem < 0) {
		fprintf(stderr, "gmem_convert_bench: KVM_CREATE_GUEST_MEMFD of %lu MiB, %s pages"
			" (flags 0x%llx): %s%s\n", (unsigned long)(size >> 20), size_name(huge),
			(unsigned long long)cg.flags, strerror(errno),
			errno == ENOMEM && huge > PAGE_SIZE ? " (HugeTLB pool too small?)" : "");
		exit(1);
	}
	f->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, f->gmem, 0);
	if (f->map == MAP_FAILED)
		die("mmap of the guest_memfd");
	r.slot = 0;
	r.flags = KVM_MEM_GUEST_MEMFD;
	r.guest_phys_addr = GPA;	/* 4G: 1G-aligned */
	r.memory_size = size;
	r.userspace_addr = (uintptr_t)f->map;
	r.guest_memfd = f->gmem;
	r.guest_memfd_offset = 0;
	if (ioctl(f->vm, KVM_SET_USER_MEMORY_REGION2, &r))
		die("KVM_SET_USER_MEMORY_REGION2");
	f->vcpu = ioctl(f->vm, KVM_CREATE_VCPU, 0);
	if (f->vcpu < 0)
		die("KVM_CREATE_VCPU");
	stats_open(&f->st, f->vm);
	stats_read(&f->st, f->base);
}

/* Everything that holds the VM or the file, so the pages go back to the pool. */
static void hdestroy(struct hfile *f)
{
	munmap(f->map, f->size);
	close(f->st.fd);
	close(f->vcpu);
	close(f->gmem);
	close(f->vm);
}

/* Map [off, off + len) of the file; 0, or -1 (errno) if @tolerate. */
static int hprefault(struct hfile *f, uint64_t off, uint64_t len, int tolerate)
{
	struct kvm_pre_fault_memory pf = { .gpa = GPA + off, .size = len };
	int stuck = 0;

	while (pf.size) {
		if (!ioctl(f->vcpu, KVM_PRE_FAULT_MEMORY, &pf)) {
			stuck = 0;
			continue;
		}
		if ((errno == EINTR || errno == EAGAIN) && ++stuck < 1000)
			continue;
		if (tolerate)
			return -1;
		fprintf(stderr, "gmem_convert_bench: KVM_PRE_FAULT_MEMORY at file offset 0x%llx"
			" (0x%llx left): %s\n", (unsigned long long)(pf.gpa - GPA),
			(unsigned long long)pf.size, strerror(errno));
		exit(1);
	}
	return 0;
}

static unsigned long eagain_retries;

static void hconvert(struct hfile *f, uint64_t off, uint64_t len, int to_private)
{
	int tries = 0;

	for (;;) {
		struct kvm_gmem_convert c = { .offset = off, .size = len };

		if (!ioctl(f->gmem, to_private ? KVM_GMEM_CONVERT_PRIVATE :
						 KVM_GMEM_CONVERT_SHARED, &c))
			return;
		if (errno != EAGAIN || ++tries >= EAGAIN_TRIES) {
			fprintf(stderr, "gmem_convert_bench: %s of 0x%llx+0x%llx (%s pages): %s\n",
				to_private ? "KVM_GMEM_CONVERT_PRIVATE" : "KVM_GMEM_CONVERT_SHARED",
				(unsigned long long)off, (unsigned long long)len,
				size_name(f->huge), strerror(errno));
			exit(1);
		}
		eagain_retries++;
		usleep(1000);
	}
}

/* Bytes of the file mapped at 1G, 2M and 4K now, from the stats. */
struct mapped {
	double b[3];	/* 1G, 2M, 4K */
};

static struct mapped hmapped(struct hfile *f)
{
	uint64_t v[NR_ST];
	struct mapped m;

	stats_read(&f->st, v);
	m.b[0] = (double)(int64_t)(v[ST_1G] - f->base[ST_1G]) * SZ_1G;
	m.b[1] = (double)(int64_t)(v[ST_2M] - f->base[ST_2M]) * SZ_2M;
	m.b[2] = (double)(int64_t)(v[ST_4K] - f->base[ST_4K]) * PAGE_SIZE;
	return m;
}

static double mapped_total(const struct mapped *m)
{
	return m->b[0] + m->b[1] + m->b[2];
}

struct boot_result {
	uint64_t size, huge;
	uint64_t conv, split, merge;		/* measured */
	uint64_t econv, esplit, emerge;		/* expected by the model */
	unsigned int left, ranges_left;		/* still shared: pages, 2M ranges */
	double first[3];	/* % of the file mapped at 1G/2M/4K after the first pre-fault */
	double meas[3];		/* % of the private memory at 1G/2M/4K at the end */
	double ideal[3];
	double mapped_pct;	/* % of the private memory mapped at the end */
	long ideal_4k, meas_4k;	/* private pages mapped at 4K */
	unsigned int shared_mapped, shared_failed;
	int ok;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Pre-fault all of the file private; share BOOT_SHARED distinct scattered 4K
 * pages, one CONVERT_SHARED each, the VMM writing to each; make BOOT_BACK of
 * them, in another order, private again; pre-fault the file again: first its
 * private memory, measured, then its shared pages.
 */
static void boot(int kvm, uint64_t size, uint64_t huge, struct boot_result *res)
{
	uint64_t npages = size / PAGE_SIZE, nr2m = size / SZ_2M, nhuge = size / huge;
	uint64_t pages[BOOT_SHARED], left[BOOT_SHARED], v0[NR_ST], v1[NR_ST];
	unsigned int *cnt2m = calloc(nr2m, sizeof(*cnt2m));
	unsigned int *cnth = calloc(nhuge, sizeof(*cnth));
	unsigned int order[BOOT_SHARED], i, j, k;
	uint64_t priv, prev, r;
	struct mapped m;
	struct hfile f;
	double ib[3] = { 0, 0, 0 };
	int lvl;

	if (!cnt2m || !cnth)
		die("calloc");
	memset(res, 0, sizeof(*res));
	res->size = size;
	res->huge = huge;
	lvl = huge == SZ_1G ? 0 : 1;

	printf("boot-like, %lu MiB file of %s pages (%lu x %s), fresh VM:\n",
	       (unsigned long)(size >> 20), size_name(huge), (unsigned long)nhuge,
	       size_name(huge));
	hcreate(kvm, &f, size, huge);
	hprefault(&f, 0, size, 0);
	m = hmapped(&f);
	for (k = 0; k < 3; k++)
		res->first[k] = 100.0 * m.b[k] / size;
	printf("  after pre-faulting it all private: mapped at 1G/2M/4K %.1f/%.1f/%.1f%% of the file\n",
	       res->first[0], res->first[1], res->first[2]);
	stats_read(&f.st, v0);

	/* BOOT_SHARED distinct pages. */
	for (i = 0; i < BOOT_SHARED; i++) {
		do {
			pages[i] = rnd() % npages;
			for (j = 0; j < i && pages[j] != pages[i]; j++)
				;
		} while (j < i);
	}
	for (i = 0; i < BOOT_SHARED; i++) {
		uint64_t p = pages[i], g = p * PAGE_SIZE / huge;

		/* Split only as needed: 1G -> 2M first, then the 2M -> 4K. */
		if (huge == SZ_1G && cnth[g]++ == 0)
			res->esplit++;
		if (cnt2m[p / PAGES_PER_2M]++ == 0)
			res->esplit++;
		res->econv++;
		hconvert(&f, p * PAGE_SIZE, PAGE_SIZE, 0);
		((volatile char *)f.map)[p * PAGE_SIZE] = 1;	/* the VMM writes to it */
	}

	/* Back to private, in another order: merge as soon as possible. */
	for (i = 0; i < BOOT_SHARED; i++)
		order[i] = i;
	for (i = BOOT_SHARED - 1; i > 0; i--) {
		unsigned int t;

		j = rnd() % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < BOOT_BACK; i++) {
		uint64_t p = pages[order[i]], g = p * PAGE_SIZE / huge;

		if (--cnt2m[p / PAGES_PER_2M] == 0)
			res->emerge++;
		if (huge == SZ_1G && --cnth[g] == 0)
			res->emerge++;
		res->econv++;
		hconvert(&f, p * PAGE_SIZE, PAGE_SIZE, 1);
	}
	stats_read(&f.st, v1);
	res->conv = v1[ST_CONV] - v0[ST_CONV];
	res->split = v1[ST_SPLIT] - v0[ST_SPLIT];
	res->merge = v1[ST_MERGE] - v0[ST_MERGE];

	/* What is left shared, and the ideal mapping of the rest. */
	for (i = BOOT_BACK; i < BOOT_SHARED; i++)
		left[res->left++] = pages[order[i]];
	qsort(left, res->left, sizeof(left[0]), cmp_u64);
	for (r = 0; r < nr2m; r++) {
		if (cnt2m[r]) {
			res->ranges_left++;
			res->ideal_4k += PAGES_PER_2M - cnt2m[r];
			ib[2] += (double)(PAGES_PER_2M - cnt2m[r]) * PAGE_SIZE;
		} else if (huge == SZ_1G && cnth[r * SZ_2M / huge]) {
			ib[1] += SZ_2M;
		} else {
			ib[lvl] += SZ_2M;
		}
	}
	priv = size - (uint64_t)res->left * PAGE_SIZE;
	for (k = 0; k < 3; k++)
		res->ideal[k] = 100.0 * ib[k] / priv;

	/* The private memory: the runs between the shared pages. */
	prev = 0;
	for (i = 0; i <= res->left; i++) {
		uint64_t end = i < res->left ? left[i] : npages;

		if (end > prev)
			hprefault(&f, prev * PAGE_SIZE, (end - prev) * PAGE_SIZE, 0);
		prev = end + 1;
	}
	m = hmapped(&f);
	for (k = 0; k < 3; k++)
		res->meas[k] = 100.0 * m.b[k] / priv;
	res->mapped_pct = 100.0 * mapped_total(&m) / priv;
	res->meas_4k = (long)(m.b[2] / PAGE_SIZE);

	/* Then the shared pages, which can only be mapped at 4K. */
	for (i = 0; i < res->left; i++)
		if (hprefault(&f, left[i] * PAGE_SIZE, PAGE_SIZE, 1))
			res->shared_failed++;
	res->shared_mapped = (unsigned int)((long)(hmapped(&f).b[2] / PAGE_SIZE) - res->meas_4k);
	hdestroy(&f);
	free(cnt2m);
	free(cnth);

	res->ok = res->conv == res->econv && res->split == res->esplit &&
		  res->merge == res->emerge && res->meas_4k == res->ideal_4k &&
		  res->mapped_pct > 99.999 && res->mapped_pct < 100.001 &&
		  !res->shared_failed && res->shared_mapped == res->left;
	printf("  %u pages shared, %u made private again\n", BOOT_SHARED, BOOT_BACK);
	printf("  conversions %lu (expected %lu), splits %lu (expected %lu), merges %lu (expected %lu)\n",
	       (unsigned long)res->conv, (unsigned long)res->econv, (unsigned long)res->split,
	       (unsigned long)res->esplit, (unsigned long)res->merge, (unsigned long)res->emerge);
	printf("  still shared: %u pages in %u of the %lu 2M ranges (only those should be at 4K)\n",
	       res->left, res->ranges_left, (unsigned long)nr2m);
	printf("  after pre-faulting its private memory again (%.1f%% of it mapped):\n",
	       res->mapped_pct);
	printf("    private memory at 1G/2M/4K: %.1f/%.1f/%.1f%%, ideal %.1f/%.1f/%.1f%%\n",
	       res->meas[0], res->meas[1], res->meas[2],
	       res->ideal[0], res->ideal[1], res->ideal[2]);
	printf("    private pages at 4K: %ld, ideal %ld (= 512 x %u ranges - %u shared)\n",
	       res->meas_4k, res->ideal_4k, res->ranges_left, res->left);
	printf("  shared pages pre-faulted: %u mapped at 4K, %u failed, of %u\n",
	       res->shared_mapped, res->shared_failed, res->left);
	printf("  %s\n", res->ok ? "ok" : "MISMATCH (see above)");
}

struct trip_result {
	uint64_t size, huge;
	double t;			/* the conversions only */
	uint64_t conv, split, merge;
	uint64_t zapped;		/* mappings at the file's level removed */
	int ok;
};

/*
 * TRIPS round trips, one at each of @pages (4K page numbers, one per 2M
 * range): make sure the page is mapped private at the file's page size
 * (untimed), then time CONVERT_SHARED and CONVERT_PRIVATE of it.
 */
static void trips(int kvm, uint64_t size, uint64_t huge, const uint64_t *pages,
		  struct trip_result *res)
{
	int lvl = huge == SZ_1G ? ST_1G : huge == SZ_2M ? ST_2M : ST_4K;
	uint64_t v0[NR_ST], v1[NR_ST], a[NR_ST], b[NR_ST], es, em;
	struct hfile f;
	double t;
	int i;

	memset(res, 0, sizeof(*res));
	res->size = size;
	res->huge = huge;
	hcreate(kvm, &f, size, huge);
	/* All of a huge file; of a 4K file (65536 faults) only the pages used. */
	if (huge > PAGE_SIZE)
		hprefault(&f, 0, size, 0);
	else
		for (i = 0; i < TRIPS; i++)
			hprefault(&f, pages[i] * PAGE_SIZE, PAGE_SIZE, 0);
	stats_read(&f.st, v0);
	for (i = 0; i < TRIPS; i++) {
		uint64_t off = pages[i] * PAGE_SIZE;

		/* The 1G mapping went with the previous round trip: map it again. */
		hprefault(&f, off, PAGE_SIZE, 0);
		stats_read(&f.st, a);
		t = now();
		hconvert(&f, off, PAGE_SIZE, 0);
		hconvert(&f, off, PAGE_SIZE, 1);
		res->t += now() - t;
		stats_read(&f.st, b);
		res->zapped += a[lvl] - b[lvl];
	}
	stats_read(&f.st, v1);
	hdestroy(&f);
	res->conv = v1[ST_CONV] - v0[ST_CONV];
	res->split = v1[ST_SPLIT] - v0[ST_SPLIT];
	res->merge = v1[ST_MERGE] - v0[ST_MERGE];
	es = em = huge == SZ_1G ? 2 * TRIPS : huge == SZ_2M ? TRIPS : 0;
	res->ok = res->conv == 2 * TRIPS && res->split == es && res->merge == em &&
		  res->zapped == TRIPS;
	printf("  %s pages, %lu MiB file: conversions %lu (expected %u), splits %lu, merges %lu"
	       " (expected %lu each), %s mappings zapped %lu (expected %u): %s\n",
	       size_name(huge), (unsigned long)(size >> 20), (unsigned long)res->conv,
	       2 * TRIPS, (unsigned long)res->split, (unsigned long)res->merge,
	       (unsigned long)es, size_name(huge), (unsigned long)res->zapped, TRIPS,
	       res->ok ? "ok" : "MISMATCH");
}

static long read_long(const char *path)
{
	FILE *fp = fopen(path, "r");
	long v = -1;

	if (fp) {
		if (fscanf(fp, "%ld", &v) != 1)
			v = -1;
		fclose(fp);
	}
	return v;
}

static void pool(const char *dir, long *avail)
{
	char path[128];
	long free_, resv;

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/%s/free_hugepages", dir);
	free_ = read_long(path);
	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/%s/resv_hugepages", dir);
	resv = read_long(path);
	*avail = free_ < 0 || resv < 0 ? -1 : free_ - resv;
}

struct part2 {
	struct boot_result boot[2];
	struct trip_result trip[3];
};

static void part2(int kvm, struct part2 *p)
{
	uint64_t pages[TRIPS], ranges[SMALL_FILE / SZ_2M], t;
	long avail_2m, avail_1g;
	unsigned int i, j;

	pool("hugepages-2048kB", &avail_2m);
	pool("hugepages-1048576kB", &avail_1g);
	printf("\n== part 2: 4 KiB conversions in HugeTLB-backed in-place guest_memfd ==\n");
	printf("HugeTLB pages free and unreserved: 2M %ld, 1G %ld (needed: %lu and 1)\n",
	       avail_2m, avail_1g, (unsigned long)(SMALL_FILE / SZ_2M));
	if ((avail_2m >= 0 && avail_2m < (long)(SMALL_FILE / SZ_2M)) ||
	    (avail_1g >= 0 && avail_1g < 1))
		fail("part 2: not enough free HugeTLB pages");
	printf("seed 0x%llx; boot-like: share %u scattered 4K pages, %u back to private\n",
	       (unsigned long long)SEED, BOOT_SHARED, BOOT_BACK);

	rng_state = SEED;
	boot(kvm, SMALL_FILE, SZ_2M, &p->boot[0]);
	boot(kvm, SZ_1G, SZ_1G, &p->boot[1]);

	/* One page in each of TRIPS distinct 2M ranges of the first SMALL_FILE. */
	for (i = 0; i < SMALL_FILE / SZ_2M; i++)
		ranges[i] = i;
	for (i = SMALL_FILE / SZ_2M - 1; i > 0; i--) {
		j = rnd() % (i + 1);
		t = ranges[i];
		ranges[i] = ranges[j];
		ranges[j] = t;
	}
	for (i = 0; i < TRIPS; i++)
		pages[i] = ranges[i] * PAGES_PER_2M + rnd() % PAGES_PER_2M;

	printf("round trips: %u x (CONVERT_SHARED + CONVERT_PRIVATE of one 4K page), one per 2M\n"
	       "range of the first %lu MiB, same offsets for each file, each mapped private at\n"
	       "the file's page size beforehand (4K file: only those pages pre-faulted):\n",
	       TRIPS, (unsigned long)(SMALL_FILE >> 20));
	trips(kvm, SMALL_FILE, PAGE_SIZE, pages, &p->trip[0]);
	trips(kvm, SMALL_FILE, SZ_2M, pages, &p->trip[1]);
	trips(kvm, SZ_1G, SZ_1G, pages, &p->trip[2]);
	printf("  time(2M)/time(4K) %.2fx, time(1G)/time(4K) %.2fx\n",
	       p->trip[1].t / p->trip[0].t, p->trip[2].t / p->trip[0].t);
	if (eagain_retries)
		printf("  note: %lu conversions retried after EAGAIN\n", eagain_retries);
}

static void summary(double (*r1)[2], const struct part2 *p)
{
	static const uint64_t counts[] = { 1, 64, 4096 };
	unsigned int c, i, ok = 1;

	printf("\n==== gmem_convert_bench summary ====\n");
	if (r1) {
		printf("part 1, base/in-place time (contiguous, scattered):");
		for (c = 0; c < 3; c++)
			printf(" %lu pages %.2fx %.2fx%s", (unsigned long)counts[c],
			       r1[c][0], r1[c][1], c < 2 ? ";" : "\n");
	}
	if (p) {
		printf("part 2, seed 0x%llx, boot-like: %u 4K pages shared, %u back to private\n",
		       (unsigned long long)SEED, BOOT_SHARED, BOOT_BACK);
		for (i = 0; i < 2; i++) {
			const struct boot_result *b = &p->boot[i];

			printf("  %s file %4lu MiB: conv %lu split %lu merge %lu (model %lu/%lu/%lu);"
			       " %u shared in %u 2M ranges;\n"
			       "    private at 1G/2M/4K %.1f/%.1f/%.1f%% (ideal %.1f/%.1f/%.1f%%),"
			       " 4K pages %ld (ideal %ld): %s\n",
			       size_name(b->huge), (unsigned long)(b->size >> 20),
			       (unsigned long)b->conv, (unsigned long)b->split,
			       (unsigned long)b->merge, (unsigned long)b->econv,
			       (unsigned long)b->esplit, (unsigned long)b->emerge,
			       b->left, b->ranges_left, b->meas[0], b->meas[1], b->meas[2],
			       b->ideal[0], b->ideal[1], b->ideal[2], b->meas_4k, b->ideal_4k,
			       b->ok ? "ok" : "MISMATCH");
			ok &= b->ok;
		}
		printf("  round trip of a 4K page (%u each; 4K/2M files %lu MiB, 1G file 1 GiB):\n",
		       TRIPS, (unsigned long)(SMALL_FILE >> 20));
		for (i = 1; i < 3; i++) {
			const struct trip_result *t = &p->trip[i];

			printf("    %s/4K time %.2fx, splits/merges per trip %.2f/%.2f: %s\n",
			       size_name(t->huge), t->t / p->trip[0].t,
			       (double)t->split / TRIPS, (double)t->merge / TRIPS,
			       t->ok ? "ok" : "MISMATCH");
		}
		ok &= p->trip[0].ok && p->trip[1].ok && p->trip[2].ok;
		printf("  checks: %s\n", ok ? "all ok" : "MISMATCH, see above");
	}
	printf("====\n");
}

int main(int argc, char **argv)
{
	static const uint64_t counts[] = { 1, 64, 4096 };
	int kvm, part = argc > 1 ? atoi(argv[1]) : 0;
	static struct part2 p2;
	double r1[3][2];
	unsigned int c, stride;

	if (argc > 2 || part < 0 || part > 2) {
		fprintf(stderr, "usage: %s [1|2]\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	kvm = open("/dev/kvm", O_RDWR);
	if (kvm < 0)
		die("/dev/kvm");
	printf("gmem_convert_bench: counts and ratios only (times under emulation mean nothing)\n");
	if (part != 2) {
		printf("\n== part 1: in-place conversion vs. the base's destructive path ==\n");
		printf("%-6s %-10s %14s\n", "pages", "layout", "base/in-place");
		for (c = 0; c < 3; c++) {
			for (stride = 1; stride <= 2; stride++) {
				double base = run(kvm, counts[c], stride, 0);
				double inplace = run(kvm, counts[c], stride, 1);

				r1[c][stride - 1] = base / inplace;
				printf("%-6lu %-10s %13.2fx\n", (unsigned long)counts[c],
				       stride == 1 ? "contiguous" : "scattered", base / inplace);
			}
		}
	}
	if (part != 1)
		part2(kvm, &p2);
	summary(part != 2 ? r1 : NULL, part != 1 ? &p2 : NULL);
	return 0;
}
