// SPDX-License-Identifier: GPL-2.0
/*
 * Out-of-line copies of static inline kernel functions for the Rust glue
 * layer; see include/cmis_helpers.h.
 */
#include <linux/netdevice.h>
#include <linux/etherdevice.h>
#include <linux/workqueue.h>
#include <linux/rtnetlink.h>
#include <linux/ethtool.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>

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

void cmis_helper_dev_hold(struct net_device *dev)
{
	dev_hold(dev);
}

void cmis_helper_dev_put(struct net_device *dev)
{
	dev_put(dev);
}

bool cmis_helper_netif_running(const struct net_device *dev)
{
	return netif_running(dev);
}

struct net *cmis_helper_dev_net(const struct net_device *dev)
{
	return dev_net(dev);
}

struct net *cmis_helper_genl_info_net(const struct genl_info *info)
{
	return genl_info_net(info);
}

struct net *cmis_helper_get_net(struct net *net)
{
	return get_net(net);
}

void cmis_helper_put_net(struct net *net)
{
	put_net(net);
}

bool cmis_helper_module_fw_flash_in_progress(const struct net_device *dev)
{
	ASSERT_RTNL();
	return dev->ethtool->module_fw_flash_in_progress;
}

void cmis_helper_set_module_fw_flash_in_progress(struct net_device *dev,
						 bool in_progress)
{
	ASSERT_RTNL();
	dev->ethtool->module_fw_flash_in_progress = in_progress;
}

struct net_device *cmis_helper_netdev_notifier_info_to_dev(void *info)
{
	return netdev_notifier_info_to_dev(info);
}

struct netlink_ext_ack *cmis_helper_netdev_notifier_info_to_extack(void *info)
{
	return netdev_notifier_info_to_extack(info);
}

struct sk_buff *cmis_helper_genlmsg_new(void)
{
	return genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
}

void cmis_helper_genlmsg_end(struct sk_buff *skb, void *hdr)
{
	genlmsg_end(skb, hdr);
}

void cmis_helper_nlmsg_free(struct sk_buff *skb)
{
	nlmsg_free(skb);
}

int cmis_helper_nla_put_u32(struct sk_buff *skb, int type, u32 value)
{
	return nla_put_u32(skb, type, value);
}

int cmis_helper_nla_put_uint(struct sk_buff *skb, int type, u64 value)
{
	return nla_put_uint(skb, type, value);
}

int cmis_helper_nla_put_string(struct sk_buff *skb, int type, const char *s)
{
	return nla_put_string(skb, type, s);
}

struct nlattr *cmis_helper_nla_nest_start(struct sk_buff *skb, int type)
{
	return nla_nest_start(skb, type);
}

void cmis_helper_nla_nest_end(struct sk_buff *skb, struct nlattr *start)
{
	nla_nest_end(skb, start);
}

int cmis_helper_genlmsg_unicast(struct net *net, struct sk_buff *skb,
				u32 portid)
{
	return genlmsg_unicast(net, skb, portid);
}

int cmis_helper_genlmsg_multicast_netns(const struct genl_family *family,
					struct net *net, struct sk_buff *skb,
					unsigned int group)
{
	return genlmsg_multicast_netns(family, net, skb, 0, group, GFP_KERNEL);
}

struct workqueue_struct *cmis_helper_alloc_unbound_workqueue(const char *name)
{
	/* Unbound: each flash sleeps for most of its life; max_active 0
	 * takes the default, far above the number of ports flashed at once.
	 */
	return alloc_workqueue("%s", WQ_UNBOUND, 0, name);
}
