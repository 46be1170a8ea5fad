/** PostgreSQL store on Kysely: not built yet (see the issue tracker). */
export {}
