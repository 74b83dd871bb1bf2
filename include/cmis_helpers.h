/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Out-of-line wrappers for the static inline kernel functions and macros
 * that the Rust glue layer (rust/glue/) calls and that Linux 7.3's kernel
 * crate has no helper for. bindgen cannot see static inlines, so each gets
 * a small C function here. Every module links its own copy
 * (rust/<module>/<module>_helpers.c includes rust/glue/helpers.c); nothing
 * is exported.
 */
#ifndef CMIS_HELPERS_H
#define CMIS_HELPERS_H

#include <linux/types.h>

struct net;
struct net_device;
struct ethtool_ops;
struct device;
struct sk_buff;
struct nlattr;
struct genl_info;
struct genl_family;

/*
 * Fields of struct net_device, which the kernel crate's bindings leave
 * opaque (rust/glue/netdev.rs, rust/glue/ethdev.rs).
 */
void cmis_helper_netdev_name(const struct net_device *dev, char *buf);
int cmis_helper_netdev_ifindex(const struct net_device *dev);
const struct ethtool_ops *
cmis_helper_netdev_ethtool_ops(const struct net_device *dev);
struct device *cmis_helper_netdev_device(struct net_device *dev);

/* Our own devices (rust/glue/netdev.rs). */
void cmis_helper_runtime_pm_enable(struct device *dev);
void cmis_helper_runtime_pm_disable(struct device *dev);
int cmis_helper_runtime_pm_usage(struct device *dev);
bool cmis_helper_runtime_pm_active(struct device *dev);
void cmis_helper_netdev_setup(struct net_device *dev, void *data,
			      const struct ethtool_ops *ethtool_ops,
			      struct device *parent, void *devlink_port);
void *cmis_helper_devlink_new(struct device *dev);
void cmis_helper_devlink_free(void *devlink);
int cmis_helper_devlink_split_port_new(void *devlink, u32 index, u32 number,
				       u32 subport, void **port);
void cmis_helper_devlink_port_free(void *port);
void *cmis_helper_netdev_data(const struct net_device *dev);

/* Devices of other drivers, network namespaces (rust/glue/ethdev.rs). */
void cmis_helper_dev_hold(struct net_device *dev);
void cmis_helper_dev_put(struct net_device *dev);
void cmis_helper_netdev_hold(struct net_device *dev, netdevice_tracker *tracker);
void cmis_helper_netdev_put(struct net_device *dev, netdevice_tracker *tracker);
bool cmis_helper_netif_running(const struct net_device *dev);
bool cmis_helper_netif_device_present(const struct net_device *dev);
bool cmis_helper_netdev_is_registered(const struct net_device *dev);
int cmis_helper_ethtool_ops_begin(struct net_device *dev);
void cmis_helper_ethtool_ops_complete(struct net_device *dev);
void cmis_helper_netdev_pm_get(struct net_device *dev);
void cmis_helper_netdev_pm_put(struct net_device *dev);
bool cmis_helper_netdev_is_split_port(const struct net_device *dev);
bool cmis_helper_netdev_moving_ns(const struct net_device *dev);
struct net *cmis_helper_dev_get_net(const struct net_device *dev);
bool cmis_helper_module_fw_flash_in_progress(const struct net_device *dev);
void cmis_helper_set_module_fw_flash_in_progress(struct net_device *dev,
						 bool in_progress);
struct net_device *cmis_helper_netdev_notifier_info_to_dev(void *info);
void cmis_helper_netdev_notifier_set_err_msg(void *info, const char *msg);

/* Generic netlink (rust/glue/genl.rs). */
struct net *cmis_helper_genl_info_get_net(const struct genl_info *info);
void cmis_helper_genl_ack_now(struct sk_buff *skb, const struct genl_info *info);
struct net *cmis_helper_get_net(struct net *net);
void cmis_helper_put_net(struct net *net);
void cmis_helper_get_net_track(struct net *net, netns_tracker *tracker);
void cmis_helper_put_net_track(struct net *net, netns_tracker *tracker);
struct nlattr *cmis_helper_nla_nest_start(struct sk_buff *skb, int type);
void cmis_helper_nla_nest_end(struct sk_buff *skb, struct nlattr *start);
int cmis_helper_genlmsg_unicast(struct net *net, struct sk_buff *skb,
				u32 portid);
int cmis_helper_genlmsg_multicast_netns(const struct genl_family *family,
					struct net *net, struct sk_buff *skb,
					unsigned int group);
void cmis_helper_genlmsg_cancel(struct sk_buff *skb, void *hdr);
const struct genl_family *cmis_helper_genl_dump_family(struct netlink_callback *cb);
const struct genl_info *cmis_helper_genl_dump_info(struct netlink_callback *cb);
struct net_device *cmis_helper_dev_get_next(struct net *net, unsigned long *ifindex);

/* The caller of a request (rust/glue/security.rs): its name, for the log. */
void cmis_helper_current_comm(char *buf);

/*
 * cmis_fw's module parameter (rust/cmis_fw/cmis_fw_helpers.c): a string,
 * which the 7.3 module! macro's params cannot declare.
 */
const char *cmis_helper_param_family(void);

#endif /* CMIS_HELPERS_H */
