/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input of our own bindgen run (see Kbuild). Linux 7.3's kernel crate
 * binds most of what the glue layer in rust/glue/ needs (ethtool_ops,
 * generic netlink, nla_policy, sk_buff, struct net, debugfs, firmware,
 * workqueues), but its struct net_device is opaque and it lacks the
 * netdev, RTNL and netdevice notifier functions: only those, and our C
 * helpers (which also reach the net_device fields), are generated from
 * here.
 */
#include <linux/netdevice.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/rtnetlink.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include "cmis_helpers.h"
