// SPDX-License-Identifier: GPL-2.0
/*
 * sara_leak_probe: a planted leak, for the memory-checking boot's self-check (qemu-tests/guest.sh).
 *
 * On load it allocates one object and forgets it: nothing in the kernel refers to it any more, which
 * is exactly what kmemleak must report. guest.sh loads it before the tests, waits until kmemleak's
 * report names this module's init function (so the boot is shown able to fail on a leak), then marks
 * the report as seen ("clear") and unloads the module; the run's own leak check comes at the end.
 * It is never loaded outside that boot.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

/* The pointer passes through here once, so the compiler cannot drop the allocation; it is then
 * overwritten, and the object has no reference left. */
static void *sara_leak_probe_last;

static int __init sara_leak_probe_init(void)
{
	void *p = kmalloc(1000, GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	memset(p, 0x5a, 1000);	/* no pointer-like words inside: nothing it holds is kept alive */
	WRITE_ONCE(sara_leak_probe_last, p);
	WRITE_ONCE(sara_leak_probe_last, NULL);
	pr_info("sara_leak_probe: one 1000-byte object allocated and forgotten (a planted leak)\n");
	return 0;
}

static void __exit sara_leak_probe_exit(void)
{
}

module_init(sara_leak_probe_init);
module_exit(sara_leak_probe_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("SARA test: a planted leak that kmemleak must report");
