// SPDX-License-Identifier: GPL-2.0
/*
 * Out-of-line copies of static inline kernel functions for the Rust glue
 * layer; see include/cmis_helpers.h.
 */
#include <linux/netdevice.h>
#include <linux/etherdevice.h>
#include <linux/rtnetlink.h>
#include <linux/ethtool.h>
#include <linux/pm_runtime.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <net/devlink.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/netdev_lock.h>

#include "cmis_helpers.h"

/* rust/glue/genl.rs spells these out. */
static_assert(GENL_MCAST_CAP_NET_ADMIN == 1);

/* Copies the name into buf, IFNAMSIZ bytes, NUL-terminated. */
void cmis_helper_netdev_name(const struct net_device *dev, char *buf)
{
	strscpy(buf, dev->name, IFNAMSIZ);
}

int cmis_helper_netdev_ifindex(const struct net_device *dev)
{
	return dev->ifindex;
}

const struct ethtool_ops *
cmis_helper_netdev_ethtool_ops(const struct net_device *dev)
{
	return dev->ethtool_ops;
}

struct device *cmis_helper_netdev_device(struct net_device *dev)
{
	return &dev->dev;
}

/* Our devices are sinks: a port that only carries a module drops packets. */
static netdev_tx_t cmis_helper_start_xmit(struct sk_buff *skb,
					  struct net_device *dev)
{
	dev_kfree_skb_any(skb);
	return NETDEV_TX_OK;
}

static const struct net_device_ops cmis_helper_netdev_ops = {
	.ndo_start_xmit = cmis_helper_start_xmit,
};

/*
 * Sets up a freshly allocated (unregistered) device of ours: its private
 * area holds one pointer to the driver data.
 */
void cmis_helper_netdev_setup(struct net_device *dev, void *data,
			      const struct ethtool_ops *ethtool_ops,
			      struct device *parent, void *devlink_port)
{
	*(void **)netdev_priv(dev) = data;
	SET_NETDEV_DEV(dev, parent);
	SET_NETDEV_DEVLINK_PORT(dev, devlink_port);
	dev->netdev_ops = &cmis_helper_netdev_ops;
	dev->ethtool_ops = ethtool_ops;
	dev->flags |= IFF_NOARP;
	eth_hw_addr_random(dev);
}

/*
 * A registered devlink instance of @dev (bound to a driver) with no
 * operations, so that ports can be shown split from a wider one; NULL
 * without CONFIG_NET_DEVLINK or memory. Handles are void pointers: the
 * kernel crate's bindings have no devlink types.
 */
void *cmis_helper_devlink_new(struct device *dev)
{
#if IS_ENABLED(CONFIG_NET_DEVLINK)
	static const struct devlink_ops ops = {};
	struct devlink *devlink = devlink_alloc(&ops, 0, dev);

	if (devlink)
		devlink_register(devlink);
	return devlink;
#else
	return NULL;
#endif
}

void cmis_helper_devlink_free(void *devlink)
{
#if IS_ENABLED(CONFIG_NET_DEVLINK)
	devlink_unregister(devlink);
	devlink_free(devlink);
#endif
}

/*
 * A physical port of @devlink, numbered @index there: subport @subport of
 * front panel port @number, split from it. Stored in *@port.
 */
int cmis_helper_devlink_split_port_new(void *devlink, u32 index, u32 number,
				       u32 subport, void **port)
{
#if IS_ENABLED(CONFIG_NET_DEVLINK)
	struct devlink_port_attrs attrs = {
		.flavour = DEVLINK_PORT_FLAVOUR_PHYSICAL,
		.split = true,
		.phys.port_number = number,
		.phys.split_subport_number = subport,
	};
	struct devlink_port *p = kzalloc(sizeof(*p), GFP_KERNEL);
	int err;

	if (!p)
		return -ENOMEM;
	devlink_port_attrs_set(p, &attrs);
	err = devlink_port_register(devlink, p, index);
	if (err) {
		kfree(p);
		return err;
	}
	*port = p;
	return 0;
#else
	return -EOPNOTSUPP;
#endif
}

/* Once no net_device refers to @port any more. */
void cmis_helper_devlink_port_free(void *port)
{
#if IS_ENABLED(CONFIG_NET_DEVLINK)
	devlink_port_unregister(port);
	kfree(port);
#endif
}

/* Runtime PM of a device whose driver has no callbacks: get and put only
 * count (the device is "resumed" while counted). */
void cmis_helper_runtime_pm_enable(struct device *dev)
{
	pm_runtime_enable(dev);
}

void cmis_helper_runtime_pm_disable(struct device *dev)
{
	pm_runtime_disable(dev);
}

/* The device's runtime PM usage count, -1 without CONFIG_PM. */
int cmis_helper_runtime_pm_usage(struct device *dev)
{
#ifdef CONFIG_PM
	return atomic_read(&dev->power.usage_count);
#else
	return -1;
#endif
}

bool cmis_helper_runtime_pm_active(struct device *dev)
{
	return pm_runtime_active(dev);
}

void *cmis_helper_netdev_data(const struct net_device *dev)
{
	return *(void **)netdev_priv(dev);
}

void cmis_helper_dev_hold(struct net_device *dev)
{
	dev_hold(dev);
}

void cmis_helper_dev_put(struct net_device *dev)
{
	dev_put(dev);
}

/* Tracked references: a leak is reported with the stack that took it. */
void cmis_helper_netdev_hold(struct net_device *dev, netdevice_tracker *tracker)
{
	netdev_hold(dev, tracker, GFP_KERNEL);
}

void cmis_helper_netdev_put(struct net_device *dev, netdevice_tracker *tracker)
{
	netdev_put(dev, tracker);
}

bool cmis_helper_netif_running(const struct net_device *dev)
{
	return netif_running(dev);
}

bool cmis_helper_netif_device_present(const struct net_device *dev)
{
	return netif_device_present(dev);
}

/* Registered and not being unregistered (RTNL held: it cannot change). */
bool cmis_helper_netdev_is_registered(const struct net_device *dev)
{
	ASSERT_RTNL();
	return READ_ONCE(dev->reg_state) == NETREG_REGISTERED;
}

/* A reference on the device's namespace, or NULL if it is being dismantled. */
struct net *cmis_helper_dev_get_net(const struct net_device *dev)
{
	return maybe_get_net(dev_net(dev));
}

/*
 * ethnl_ops_begin() (not exported): the device's parent runtime-resumed,
 * the device present and not going away, the driver's ->begin. RTNL held;
 * the driver's ops lock is taken around ->begin for drivers that have one.
 * On success, cmis_helper_ethtool_ops_complete() must follow.
 */
int cmis_helper_ethtool_ops_begin(struct net_device *dev)
{
	int ret = 0;

	ASSERT_RTNL();
	if (dev->dev.parent)
		pm_runtime_get_sync(dev->dev.parent);
	netdev_lock_ops(dev);
	if (!netif_device_present(dev) || dev->reg_state >= NETREG_UNREGISTERING)
		ret = -ENODEV;
	else if (dev->ethtool_ops->begin)
		ret = dev->ethtool_ops->begin(dev);
	netdev_unlock_ops(dev);
	if (ret && dev->dev.parent)
		pm_runtime_put(dev->dev.parent);
	return ret;
}

/* ethnl_ops_complete(), for a successful cmis_helper_ethtool_ops_begin(). */
void cmis_helper_ethtool_ops_complete(struct net_device *dev)
{
	ASSERT_RTNL();
	netdev_lock_ops(dev);
	if (dev->ethtool_ops->complete)
		dev->ethtool_ops->complete(dev);
	netdev_unlock_ops(dev);
	if (dev->dev.parent)
		pm_runtime_put(dev->dev.parent);
}

/* A runtime PM reference on the device's parent, for a whole flash. */
void cmis_helper_netdev_pm_get(struct net_device *dev)
{
	if (dev->dev.parent)
		pm_runtime_get_sync(dev->dev.parent);
}

void cmis_helper_netdev_pm_put(struct net_device *dev)
{
	if (dev->dev.parent)
		pm_runtime_put(dev->dev.parent);
}

/*
 * Whether the device is moving to another namespace: it then goes through
 * NETDEV_UNREGISTER and NETDEV_REGISTER without going away (RTNL held).
 */
bool cmis_helper_netdev_moving_ns(const struct net_device *dev)
{
	ASSERT_RTNL();
	return dev->moving_ns;
}

/* Whether the device is a port split from a wider one (devlink). */
bool cmis_helper_netdev_is_split_port(const struct net_device *dev)
{
	ASSERT_RTNL();
	return dev->devlink_port && dev->devlink_port->attrs.split;
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

/* The veto message of a notifier event (msg: static). */
void cmis_helper_netdev_notifier_set_err_msg(void *info, const char *msg)
{
	struct netlink_ext_ack *extack = netdev_notifier_info_to_extack(info);

	/* NL_SET_ERR_MSG() without its literal-only static copy. */
	if (extack)
		extack->_msg = msg;
}

/* A reference on the requester's namespace. */
struct net *cmis_helper_genl_info_get_net(const struct genl_info *info)
{
	return get_net(genl_info_net(info));
}

/*
 * Acknowledges a request now, if it asked for an ack, rather than after
 * its operation returns: netlink_rcv_skb() acks again only if NLM_F_ACK is
 * still set (or the operation failed). Only for requests whose operation
 * then succeeds.
 */
void cmis_helper_genl_ack_now(struct sk_buff *skb, const struct genl_info *info)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)info->nlhdr;

	if (!(nlh->nlmsg_flags & NLM_F_ACK))
		return;
	netlink_ack(skb, nlh, 0, NULL);
	nlh->nlmsg_flags &= ~NLM_F_ACK;
}

struct net *cmis_helper_get_net(struct net *net)
{
	return get_net(net);
}

void cmis_helper_put_net(struct net *net)
{
	put_net(net);
}

void cmis_helper_get_net_track(struct net *net, netns_tracker *tracker)
{
	get_net_track(net, tracker, GFP_KERNEL);
}

void cmis_helper_put_net_track(struct net *net, netns_tracker *tracker)
{
	put_net_track(net, tracker);
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

void cmis_helper_genlmsg_cancel(struct sk_buff *skb, void *hdr)
{
	genlmsg_cancel(skb, hdr);
}

/* A dump's family and request, which genl_start() set up. */
const struct genl_family *cmis_helper_genl_dump_family(struct netlink_callback *cb)
{
	return genl_info_dump(cb)->family;
}

const struct genl_info *cmis_helper_genl_dump_info(struct netlink_callback *cb)
{
	return genl_info_dump(cb);
}

/*
 * The device of @net with the lowest index at least *@ifindex, held (NULL:
 * none); *@ifindex becomes its index. As for_each_netdev_dump().
 */
struct net_device *cmis_helper_dev_get_next(struct net *net, unsigned long *ifindex)
{
	struct net_device *dev;

	rcu_read_lock();
	dev = xa_find(&net->dev_by_index, ifindex, ULONG_MAX, XA_PRESENT);
	if (dev)
		dev_hold(dev);
	rcu_read_unlock();
	return dev;
}

int cmis_helper_genlmsg_multicast_netns(const struct genl_family *family,
					struct net *net, struct sk_buff *skb,
					unsigned int group)
{
	return genlmsg_multicast_netns(family, net, skb, 0, group, GFP_KERNEL);
}

void cmis_helper_current_comm(char *buf)
{
	/* rust/glue/security.rs passes 16 bytes. */
	BUILD_BUG_ON(TASK_COMM_LEN != 16);
	strscpy_pad(buf, current->comm, TASK_COMM_LEN);
}
