#include "export.h"
#include "types.h"

struct resource root_resource;
EXPORT_SYMBOL(root_resource);

int insert_resource_expand(struct resource *parent, struct resource *new)
{
	new->parent = parent;
	return 0;
}
EXPORT_SYMBOL_NS_GPL(insert_resource_expand, CXL);

struct ucounts *inc_ucount(struct ucounts *ns, int type)
{
	ns->counts[type & 3]++;
	return ns;
}
EXPORT_SYMBOL_FOR_MODULES(inc_ucount, "binfmt_misc");

void dma_resource_put(struct resource *res)
{
	res->flags = 0;
}
EXPORT_SYMBOL_NS_GPL(dma_resource_put, DMA_BUF);
