// SPDX-License-Identifier: GPL-2.0
/*
 * Out-of-line copies of static inline kernel functions for the Rust glue
 * layer; see include/cmis_helpers.h.
 */
#include <linux/netdevice.h>
#include <linux/etherdevice.h>

#include "cmis_helpers.h"

void *cmis_helper_netdev_priv(const struct net_device *dev)
{
	return netdev_priv(dev);
}

void cmis_helper_eth_hw_addr_random(struct net_device *dev)
{
	eth_hw_addr_random(dev);
}

void cmis_helper_dev_kfree_skb_any(struct sk_buff *skb)
{
	dev_kfree_skb_any(skb);
}
