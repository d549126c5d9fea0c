// SPDX-License-Identifier: GPL-2.0
/*
 * sara_leak_probe: a planted leak, for the memory-checking boot's self-check (qemu-tests/guest.sh).
 *
 * On load it allocates 16 objects and forgets them: nothing in the kernel refers to them any more,
 * which is exactly what kmemleak must report (at least one: a stale stack word can hide the last). guest.sh loads it before the tests, waits until kmemleak's
 * report names this module's init function (so the boot is shown able to fail on a leak), then marks
 * the report as seen ("clear") and unloads the module; the run's own leak check comes at the end.
 * It is never loaded outside that boot.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

/* Each pointer passes through here once, so the compiler cannot drop the allocation; it is then
 * overwritten. */
static void *sara_leak_probe_last;

#define SARA_LEAK_OBJECTS 16

/* One object, forgotten. Not inlined: each call reuses the same stack slot, so of the objects only
 * the last can still be found in a stale stack word (kmemleak scans task stacks, and a freed task
 * stack may be kept in a cache; such a stale copy makes an object look referenced). */
static noinline int sara_leak_probe_one(void)
{
	void *p = kmalloc(1000, GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	memset(p, 0x5a, 1000);	/* no pointer-like words inside: nothing it holds is kept alive */
	WRITE_ONCE(sara_leak_probe_last, p);
	WRITE_ONCE(sara_leak_probe_last, NULL);
	return 0;
}

static int __init sara_leak_probe_init(void)
{
	int i;

	for (i = 0; i < SARA_LEAK_OBJECTS; i++)
		if (sara_leak_probe_one())
			return -ENOMEM;
	pr_info("sara_leak_probe: %d objects of 1000 bytes allocated and forgotten (a planted leak)\n",
		SARA_LEAK_OBJECTS);
	return 0;
}

static void __exit sara_leak_probe_exit(void)
{
}

module_init(sara_leak_probe_init);
module_exit(sara_leak_probe_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("SARA test: a planted leak that kmemleak must report");
