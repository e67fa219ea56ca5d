// gpu_tool: drives emu64's GPU copy/fill engine from inside Linux (a static program; root needed for pagemap).
// It maps the engine's BAR (/sys/bus/pci/devices/*/resource4 of the 1234:1111 function), finds the physical
// frames of its own pages through /proc/self/pagemap, builds a context of GPU page tables (devices/gpu/engine/gpu_pt.h)
// over them, submits batches (regs.h) and checks the results.
//
//   gpu_tool [check]      bind, FILL + COPY checked byte for byte, a live edit of a leaf entry, a bad entry's fault,
//                         statistics; exit status 0 when every check passed
//   gpu_tool stats        print the engine's statistics registers
//   gpu_tool edit N       N rounds of: rewrite a live leaf entry (alternating between two data pages), submit a FILL
//                         through it, check which page it landed in (an experiment in shadow coherence)
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

// regs.h, as the guest sees it.
enum {
    R_ID = 0x000, R_ROOT = 0x008, R_CTL = 0x010, R_CTXST = 0x014, R_BATCH = 0x018, R_COUNT = 0x020, R_DOOR = 0x024,
    R_FADDR = 0x028, R_FVAL = 0x030, R_FAULT = 0x040, R_FCMD = 0x044, R_FGVA = 0x048, R_INTST = 0x050,
    R_TRACKED = 0x060, R_WRITES = 0x064, R_PARTIAL = 0x068, R_UPDATES = 0x06C, R_REBUILDS = 0x070, R_FAULTS = 0x074,
    R_REMOVED = 0x078, R_BATCHES = 0x07C,
};
enum { CMD_FILL = 1, CMD_COPY = 2 };
enum { PAGE = 4096, NPAGES = 12 };  // 4 tables, batch, fence, 6 data pages
#define P_W 3ull

struct cmd {
    uint32_t opcode, reserved;
    uint64_t a, b, c;
};

static volatile uint32_t* bar;
static uint8_t* pages;
static uint64_t phys[NPAGES];
static uint64_t fence;
static int failures;

static uint32_t rd(unsigned off) { return bar[off / 4]; }
static void wr(unsigned off, uint32_t v) { bar[off / 4] = v; }
static void wr64(unsigned off, uint64_t v) {
    wr(off, (uint32_t)v);
    wr(off + 4, (uint32_t)(v >> 32));
}
static uint8_t* page(int i) { return pages + (size_t)i * PAGE; }
static uint64_t* table(int i) { return (uint64_t*)page(i); }
enum { T_ROOT, T_L3, T_L2, T_L1, BATCH, FENCE, DATA };  // page indices; data pages DATA..DATA+5

static void report(const char* name, int ok) {
    printf("%s %s\n", ok ? "ok" : "FAIL", name);
    if (!ok) ++failures;
}

static int map_bar(void) {
    DIR* dir = opendir("/sys/bus/pci/devices");
    struct dirent* e;
    while (dir && (e = readdir(dir))) {
        char path[512];
        snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/vendor", e->d_name);
        FILE* f = fopen(path, "r");
        if (!f) continue;
        unsigned vendor = 0, device = 0;
        if (fscanf(f, "%x", &vendor) != 1) vendor = 0;
        fclose(f);
        snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/device", e->d_name);
        if ((f = fopen(path, "r"))) {
            if (fscanf(f, "%x", &device) != 1) device = 0;
            fclose(f);
        }
        if (vendor != 0x1234 || device != 0x1111) continue;
        snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/resource4", e->d_name);
        int fd = open(path, O_RDWR | O_SYNC);
        if (fd < 0) continue;
        void* m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (m == MAP_FAILED) continue;
        bar = m;
        printf("engine BAR4 of %s\n", e->d_name);
        closedir(dir);
        return 1;
    }
    if (dir) closedir(dir);
    return 0;
}

// Locked, touched pages and their physical addresses (pagemap bits 54:0 are the PFN when bit 63 is set).
static int alloc_pages(void) {
    pages = mmap(NULL, (size_t)NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
    if (pages == MAP_FAILED) return 0;
    memset(pages, 0, (size_t)NPAGES * PAGE);
    int fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0) return 0;
    for (int i = 0; i < NPAGES; ++i) {
        uint64_t entry = 0;
        off_t at = (off_t)(((uintptr_t)page(i) / PAGE) * 8);
        if (pread(fd, &entry, 8, at) != 8 || !(entry >> 63) || !(entry & ((1ull << 55) - 1))) {
            close(fd);
            return 0;
        }
        phys[i] = (entry & ((1ull << 55) - 1)) * PAGE;
    }
    close(fd);
    return 1;
}

// gva page i (0..5) -> data page i; one leaf table.
static void build_tables(void) {
    table(T_ROOT)[0] = phys[T_L3] | 1;
    table(T_L3)[0] = phys[T_L2] | 1;
    table(T_L2)[0] = phys[T_L1] | 1;
    for (int i = 0; i < 6; ++i) table(T_L1)[i] = phys[DATA + i] | P_W;
    table(T_L1)[7] = phys[DATA] | P_W | (1ull << 60);  // a bad entry (reserved bit)
}

static uint32_t submit(const struct cmd* cmds, unsigned n) {
    memcpy(page(BATCH), cmds, n * sizeof *cmds);
    __sync_synchronize();
    wr64(R_BATCH, phys[BATCH]);
    wr(R_COUNT, n);
    wr64(R_FADDR, phys[FENCE]);
    wr64(R_FVAL, ++fence);
    wr(R_DOOR, 1);
    __sync_synchronize();
    if (*(volatile uint64_t*)page(FENCE) != fence) report("fence written", 0);
    wr(R_INTST, 3);
    return rd(R_FAULT);
}

static void print_stats(void) {
    printf("stats: tracked gfns %u, writes seen %u (%u partial), entry updates %u, rebuilds %u, faults %u, "
           "regions removed %u, batches %u\n",
           rd(R_TRACKED), rd(R_WRITES), rd(R_PARTIAL), rd(R_UPDATES), rd(R_REBUILDS), rd(R_FAULTS), rd(R_REMOVED),
           rd(R_BATCHES));
}

static int check(void) {
    wr64(R_ROOT, phys[T_ROOT]);
    wr(R_CTL, 1);
    report("bind", rd(R_CTXST) == 1);
    report("bind tracks 4 table pages", rd(R_TRACKED) == 4);
    struct cmd fill = {CMD_FILL, 0, 5, 2 * PAGE, 0xA5C3E1F0};
    report("fill", submit(&fill, 1) == 0);
    int same = 1;
    for (unsigned i = 0; i < 2 * PAGE; ++i) {
        const uint8_t want = (uint8_t)(0xA5C3E1F0u >> (8 * (i % 4)));
        uint8_t got = i + 5 < PAGE ? page(DATA)[i + 5] : page(DATA + 1)[i + 5 - PAGE];
        same &= got == want;
    }
    report("fill bytes", same && page(DATA)[4] == 0);
    struct cmd copy = {CMD_COPY, 0, 5, 3 * PAGE + 1, 2 * PAGE};
    report("copy", submit(&copy, 1) == 0);
    report("copy bytes", memcmp(page(DATA) + 5, page(DATA + 3) + 1, PAGE - 5) == 0);
    // A live edit: gva page 0 now names data page 5.
    *(volatile uint64_t*)&table(T_L1)[0] = phys[DATA + 5] | P_W;
    struct cmd small = {CMD_FILL, 0, 0, 8, 0x11223344};
    report("live edit seen", submit(&small, 1) == 0 && *(uint32_t*)page(DATA + 5) == 0x11223344);
    struct cmd bad = {CMD_FILL, 0, 7 * PAGE, 8, 0};
    report("bad entry faults", submit(&bad, 1) == 4 && rd(R_FGVA) == 7 * PAGE);
    print_stats();
    wr(R_CTL, 2);
    report("unbind", rd(R_TRACKED) == 0);
    return failures == 0;
}

static int edit_rounds(long rounds) {
    wr64(R_ROOT, phys[T_ROOT]);
    wr(R_CTL, 1);
    for (long r = 0; r < rounds; ++r) {
        const int target = DATA + 4 + (int)(r & 1);
        *(volatile uint64_t*)&table(T_L1)[0] = phys[target] | P_W;
        struct cmd fill = {CMD_FILL, 0, 0, 4, (uint32_t)r};
        if (submit(&fill, 1) != 0 || *(volatile uint32_t*)page(target) != (uint32_t)r) {
            printf("round %ld: the batch did not land in the page the entry names\n", r);
            ++failures;
        }
    }
    print_stats();
    wr(R_CTL, 2);
    return failures == 0;
}

int main(int argc, char** argv) {
    const char* mode = argc > 1 ? argv[1] : "check";
    if (!map_bar()) {
        fprintf(stderr, "gpu_tool: no GPU engine (PCI 1234:1111 with BAR4); run emu64 with -gpu-engine\n");
        return 2;
    }
    if (rd(R_ID) != 0x45555047) {
        fprintf(stderr, "gpu_tool: BAR4 is not the copy engine (id %#x)\n", rd(R_ID));
        return 2;
    }
    if (!strcmp(mode, "stats")) {
        print_stats();
        return 0;
    }
    if (!alloc_pages()) {
        fprintf(stderr, "gpu_tool: cannot lock pages or read /proc/self/pagemap (root needed)\n");
        return 2;
    }
    build_tables();
    if (!strcmp(mode, "edit")) return edit_rounds(argc > 2 ? atol(argv[2]) : 1000) ? 0 : 1;
    if (strcmp(mode, "check")) {
        fprintf(stderr, "usage: gpu_tool [check | stats | edit N]\n");
        return 2;
    }
    return check() ? 0 : 1;
}
