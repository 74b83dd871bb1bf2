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

struct net_device;
struct sk_buff;
struct genl_info;
struct genl_family;

void *cmis_helper_netdev_priv(const struct net_device *dev);
void cmis_helper_eth_hw_addr_random(struct net_device *dev);
void cmis_helper_dev_kfree_skb_any(struct sk_buff *skb);

#endif /* CMIS_HELPERS_H */
