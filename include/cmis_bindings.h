/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input of our own bindgen run (see Kbuild). The 6.12 kernel crate has no
 * net_device, generic netlink, nla_*, rtnl or debugfs bindings (its
 * net_device is opaque), so the glue layer in rust/glue/ gets its kernel
 * types from here. Only allowlisted items are emitted.
 */
#include <linux/netdevice.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/rtnetlink.h>
#include <linux/debugfs.h>
#include <linux/firmware.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include "cmis_helpers.h"
