/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Out-of-line wrappers for the static inline kernel functions and macros
 * that the Rust glue layer (rust/glue/) calls. bindgen cannot see static
 * inlines, so each gets a one-line C function here. Every module links its
 * own copy (rust/<module>/<module>_helpers.c includes rust/glue/helpers.c);
 * nothing is exported.
 */
#ifndef CMIS_HELPERS_H
#define CMIS_HELPERS_H

#include <linux/types.h>
#include <linux/gfp_types.h>

struct net;
struct net_device;
struct sk_buff;
struct nlattr;
struct netlink_ext_ack;
struct genl_info;
struct genl_family;
struct workqueue_struct;

void *cmis_helper_netdev_priv(const struct net_device *dev);
void cmis_helper_eth_hw_addr_random(struct net_device *dev);
void cmis_helper_dev_kfree_skb_any(struct sk_buff *skb);

/* Devices of other drivers, network namespaces. */
void cmis_helper_dev_hold(struct net_device *dev);
void cmis_helper_dev_put(struct net_device *dev);
bool cmis_helper_netif_running(const struct net_device *dev);
struct net *cmis_helper_dev_net(const struct net_device *dev);
struct net *cmis_helper_genl_info_net(const struct genl_info *info);
struct net *cmis_helper_get_net(struct net *net);
void cmis_helper_put_net(struct net *net);
bool cmis_helper_module_fw_flash_in_progress(const struct net_device *dev);
void cmis_helper_set_module_fw_flash_in_progress(struct net_device *dev,
						 bool in_progress);
struct net_device *cmis_helper_netdev_notifier_info_to_dev(void *info);
struct netlink_ext_ack *cmis_helper_netdev_notifier_info_to_extack(void *info);

/* Generic netlink messages. */
struct sk_buff *cmis_helper_genlmsg_new(void);
void cmis_helper_genlmsg_end(struct sk_buff *skb, void *hdr);
void cmis_helper_nlmsg_free(struct sk_buff *skb);
int cmis_helper_nla_put_u32(struct sk_buff *skb, int type, u32 value);
int cmis_helper_nla_put_uint(struct sk_buff *skb, int type, u64 value);
int cmis_helper_nla_put_string(struct sk_buff *skb, int type, const char *s);
struct nlattr *cmis_helper_nla_nest_start(struct sk_buff *skb, int type);
void cmis_helper_nla_nest_end(struct sk_buff *skb, struct nlattr *start);
int cmis_helper_genlmsg_unicast(struct net *net, struct sk_buff *skb,
				u32 portid);
int cmis_helper_genlmsg_multicast_netns(const struct genl_family *family,
					struct net *net, struct sk_buff *skb,
					unsigned int group);

/* cmis_fw's module parameter (rust/cmis_fw/cmis_fw_helpers.c). */
const char *cmis_helper_param_family(void);

/* Work queues. */
struct workqueue_struct *cmis_helper_alloc_unbound_workqueue(const char *name);

#endif /* CMIS_HELPERS_H */
