/** Koa router for jobtrack: being built. */
export {}
