// SPDX-License-Identifier: GPL-2.0
/*
 * This module's copy of the glue layer's C helpers: an object may belong
 * to only one module, so each module compiles helpers.c itself.
 */
#include "../glue/helpers.c"

#include <linux/moduleparam.h>

/*
 * The 6.12 Rust module! macro has no parameters, so cmis_fw's only
 * parameter lives in its C object: the name of its generic netlink family.
 * "ethtool" lets unmodified ethtool flash through cmis_fw on kernels built
 * without CONFIG_ETHTOOL_NETLINK (elsewhere that name is taken and loading
 * fails with EEXIST).
 */
static char *family = "cmis_fw";
module_param(family, charp, 0444);
MODULE_PARM_DESC(family,
		 "Generic netlink family name: cmis_fw (default), or ethtool on kernels without CONFIG_ETHTOOL_NETLINK");

const char *cmis_helper_param_family(void)
{
	return family;
}
