/* network_lsm.c: loads and attaches bpf/network_lsm.bpf.c (see
 * network_lsm.h and the design comment there).
 *
 * The object declares the maps of bpf/network.bpf.h and nothing else; each
 * is replaced, before load, by the cgroup object's map of the same name
 * (bpf_map__reuse_fd). Policy commits, protected endpoints, the proxy and
 * DNS configuration and the ring buffer reader stay in modules/network.c,
 * unchanged: they act on maps both objects use.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "network_lsm.h"
#include "network_lsm.skel.h"

static struct network_lsm_bpf *skel;

static int share_maps(const struct bpf_object *net, char *err, size_t errlen)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, skel->obj)
	{
		const struct bpf_map *theirs;
		int rc;

		if (bpf_map__is_internal(m))
			continue;
		theirs = bpf_object__find_map_by_name(net, bpf_map__name(m));
		if (!theirs) {
			snprintf(err, errlen, "network: the cgroup programs have no map '%s'",
				 bpf_map__name(m));
			return -ENOENT;
		}
		rc = bpf_map__reuse_fd(m, bpf_map__fd(theirs));
		if (rc) {
			snprintf(err, errlen, "network: cannot share map '%s': %s",
				 bpf_map__name(m), strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int network_lsm_start(const struct bpf_object *net, uint64_t cgid, int level, char *err,
		      size_t errlen)
{
	int rc;

	skel = network_lsm_bpf__open();
	if (!skel) {
		rc = -errno;
		snprintf(err, errlen, "network: cannot open the BPF LSM programs: %s",
			 strerror(errno));
		return rc;
	}
	skel->rodata->session_cgid = cgid;
	skel->rodata->session_level = (uint32_t)level;
	rc = share_maps(net, err, errlen);
	if (rc)
		goto fail;
	rc = network_lsm_bpf__load(skel);
	if (rc) {
		snprintf(err, errlen, "network: cannot load the BPF LSM programs: %s",
			 strerror(-rc));
		goto fail;
	}
	rc = network_lsm_bpf__attach(skel);
	if (rc) {
		snprintf(err, errlen, "network: cannot attach the BPF LSM programs: %s",
			 strerror(-rc));
		goto fail;
	}
	return 0;
fail:
	network_lsm_stop();
	return rc;
}

bool network_lsm_active(void)
{
	return skel != NULL;
}

void network_lsm_stop(void)
{
	network_lsm_bpf__destroy(skel);
	skel = NULL;
}
