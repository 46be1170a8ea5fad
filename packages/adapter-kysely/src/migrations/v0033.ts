/**
 * Migration 0033: a claim draws its job's new fencing token at random instead
 * of adding one to it.
 *
 * The claim commits without waiting for a WAL flush (`synchronous_commit =
 * off`, migration 0004). A claim lost in a database crash left the job
 * pending with its previous token N, and the next claim handed out N + 1
 * again: the token the lost claim had given a worker whose handler may still
 * be running. Both holders' heartbeats, progress and completion matched (id,
 * token, processing): two runs at once, the stale one overwriting the newer.
 *
 * Now each claim sets `token` to a uniformly random value in 1..2147483646
 * other than the row's current one, so a token handed out by a lost claim is
 * drawn again by the next claim of that job with probability 1 in 2^31, not
 * certainly. The claim keeps its asynchronous commit; nothing else in it
 * changes (migration 0031's function, settings and departure counting).
 * Down restores migration 0031's claim.
 *
 * The hook deliveries' claim (`claimDeliveries`) is a plain statement that
 * commits synchronously: no claim of it is lost once acknowledged, so it keeps
 * adding one.
 *
 * @since 0.2.0
 */
import { sql } from "../kyselyModule.js"
import type { Kysely } from "kysely"

export const header = (s: string) => `
      create or replace function "${s}".claim(
        p_queues text[], p_types text[], p_worker text, p_limit integer,
        p_lease_ms integer, p_now timestamptz
      ) returns setof "${s}".jobs language plpgsql
        set enable_bitmapscan = off set plan_cache_mode = force_generic_plan as $fn$`

/**
 * A claim's new token: uniformly random in 1..2147483646, never the row's
 * current one (`((t + f) mod M) + 1` with f in 0..M-2 misses only t).
 */
export const randomToken = `((j.token::bigint + floor(random() * 2147483645)::bigint) % 2147483646 + 1)::integer`

/** Migration 0031's: the next integer. */
const nextToken = `j.token + 1`

/** Why the claim commits asynchronously, as migration 0031 put it (wrongly: see above). */
const asyncNext = `-- a claim lost in a database crash only means the job is claimed again (the old
        -- holder's writes are refused by the fencing token): do not wait for a WAL flush,
        -- nor hold the claim lock through one`

/** Why the claim commits asynchronously, as it is. */
export const asyncRandom = `-- do not wait for a WAL flush, nor hold the claim lock through one: a claim lost
        -- in a database crash leaves the job claimable with its previous token, and the
        -- next claim draws a new token at random (migration 0033), so it is not the one
        -- the lost claim handed out and that holder's writes are refused`

/** The update that claims locked rows (shared by both paths), with `token` its new token. */
export const claimSet = (token: string) => `status = 'processing', attempts = j.attempts + 1, token = ${token},
                locked_by = p_worker, locked_until = p_now + p_lease_ms * interval '1 millisecond',
                started_at = p_now, next_retry_at = null, cancel_requested = false, updated_at = p_now`

/** The claimable jobs of `v_queue` (for the alias `j`). */
export const claimable = `j.status in ('pending', 'retrying') and j.queue = v_queue
                and j.type = any(p_types) and j.run_at <= p_now`

/** After each claiming statement: add its rows to the claim's count. */
export const counted = `
                v_claimed := v_claimed + v_n;`

/** At the end of a claim: one number of `claimable_left` per claimed job (migration 0010), in one statement. */
export const departures = (s: string) => `
        if v_claimed > 0 then
          perform nextval('"${s}".claimable_left') from generate_series(1, v_claimed);
        end if;`

/**
 * The claim's path under the claim lock (a limited group in the queue), as migration 0031 wrote it:
 * shared with later claims (migration 0044), which change only the lock-free path.
 *
 * @internal
 */
export const limitedPath = (s: string, token: string): string => `          v_passed := '{}';
          loop
            v_window := v_left * 4 + 16;
            -- groups already full, this claim's own claims counted
            select coalesce(array_agg(f.group_key), '{}') into v_full from (
              select group_key from "${s}".jobs where status = 'processing' and group_key is not null
              group by group_key having count(*) >= max(group_limit)
            ) f;
            -- candidates: an ordered scan of jobs_claim, stopped by the limit
            with candidates as (
              select j.id, j.group_key, j.group_limit, j.priority, j.run_at
              from "${s}".jobs j
              where ${claimable}
                and (j.group_key is null or not (j.group_key = any(v_full)))
                and not (j.id = any(v_passed))
              order by j.priority desc, j.run_at, j.id
              limit v_window
            ), running as (
              select g.group_key, count(*)::integer as n from "${s}".jobs g
              where g.status = 'processing' and g.group_key in (select c.group_key from candidates c)
              group by g.group_key
            )
            select coalesce(array_agg(c.id order by c.priority desc, c.run_at, c.id), '{}'),
                (select count(*)::integer from candidates)
              into v_ids, v_seen from (
              select c.* from (
                select c.*, row_number() over (partition by c.group_key order by c.priority desc, c.run_at, c.id) as rn
                from candidates c
              ) c left join running g on g.group_key = c.group_key
              where c.group_key is null or c.group_limit is null or c.rn + coalesce(g.n, 0) <= c.group_limit
              order by c.priority desc, c.run_at, c.id
              limit v_left
            ) c;
            exit when cardinality(v_ids) = 0;
            -- Lock the chosen rows by primary key (SKIP LOCKED: a row another transaction
            -- holds is passed over, and the next candidates are taken). The status is checked
            -- on the locked row's latest version, not in the scan's condition: a status
            -- condition would let the planner, misled by statistics from before the backlog,
            -- walk the whole claim index filtering by id.
            return query
            with locked as (
              select j.id, j.status from "${s}".jobs j
              where j.id = any(v_ids)
              for update skip locked
            ), claimed as (
              update "${s}".jobs j set
                ${claimSet(token)}
              from locked where j.id = locked.id and locked.status in ('pending', 'retrying')
              returning j.*
            )
            select * from claimed order by priority desc, run_at, id;
            get diagnostics v_n = row_count;${counted}
            v_left := v_left - v_n;
            -- done when the limit is filled, or when every chosen job was claimed and the scan
            -- saw every candidate left; otherwise the next candidates (the groups this claim
            -- filled are now left out, the rows held by others passed over)
            exit when v_left <= 0 or (v_n = cardinality(v_ids) and v_seen < v_window);
            v_passed := v_passed || v_ids;
          end loop;`

const claimFunction = (s: string, token: string) => `${header(s)}
      declare
        v_queue text;
        v_left integer := p_limit;
        v_locked boolean := false;
        v_limited boolean;
        v_full text[];
        v_ids uuid[];
        v_passed uuid[];
        v_window integer;
        v_seen integer;
        v_n integer;
        v_claimed integer := 0;
      begin
        ${token === randomToken ? asyncRandom : asyncNext}
        perform set_config('synchronous_commit', 'off', true);
        foreach v_queue in array p_queues loop
          exit when v_left <= 0;
          if not v_locked then
            -- the head of the queue, read without locking: is a limited group among it?
            select coalesce(bool_or(h.group_key is not null and h.group_limit is not null), false)
              into v_limited
            from (
              select j.group_key, j.group_limit
              from "${s}".jobs j
              where ${claimable}
              order by j.priority desc, j.run_at, j.id
              limit v_left
            ) h;
            if not v_limited then
              -- lock-free: the first claimable jobs without a limited group, locked as read
              -- (a row is only ever locked here to be claimed)
              select coalesce(array_agg(c.id order by c.priority desc, c.run_at, c.id), '{}') into v_ids
              from (
                select j.id, j.priority, j.run_at
                from "${s}".jobs j
                where ${claimable}
                  and (j.group_key is null or j.group_limit is null)
                order by j.priority desc, j.run_at, j.id
                limit v_left
                for update of j skip locked
              ) c;
              if cardinality(v_ids) > 0 then
                return query
                with claimed as (
                  update "${s}".jobs j set
                    ${claimSet(token)}
                  where j.id = any(v_ids)
                  returning j.*
                )
                select * from claimed order by priority desc, run_at, id;
                get diagnostics v_n = row_count;${counted}
                v_left := v_left - v_n;
              end if;
              continue when v_left <= 0;
              -- fewer free jobs than wanted: go on under the lock only if a limited group waits
              continue when not exists (
                select 1 from "${s}".jobs j
                where ${claimable}
                  and j.group_key is not null and j.group_limit is not null
              );
            end if;
            -- a limited group in this queue: claim it and the next queues under the lock,
            -- holding no row of this queue while waiting for it
            perform pg_advisory_xact_lock(hashtext('jobtrack.claim'), hashtext('${s}'));
            v_locked := true;
          end if;
${limitedPath(s, token)}
        end loop;${departures(s)}
      end $fn$;`

/** @internal */
export const v0033 = (s: string): {
  readonly up: (db: Kysely<unknown>) => Promise<void>
  readonly down: (db: Kysely<unknown>) => Promise<void>
} => ({
  up: async (db) => {
    await sql.raw(claimFunction(s, randomToken)).execute(db)
  },
  down: async (db) => {
    await sql.raw(claimFunction(s, nextToken)).execute(db)
  }
})
