// SPDX-License-Identifier: GPL-2.0
/*
 * This module's copy of the glue layer's C helpers: an object may belong
 * to only one module, so each module compiles helpers.c itself.
 */
#include "../glue/helpers.c"
