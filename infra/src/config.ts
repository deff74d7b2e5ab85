// infra/config.yaml: parsed with `yaml`, validated by hand so every error names the offending key.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`config: ${key}: ${message}`);
    this.name = 'ConfigError';
  }
}

export interface PlatformConfig {
  name: string;
  account: string;
  region: string;
  network: { cidr: string; availabilityZones: string[]; natGateways: number; flowLogRetentionDays: number; s3PrefixListId: string };
  database: {
    instanceType: string;
    engineVersion: string;
    allocatedStorageGiB: number;
    maxAllocatedStorageGiB: number;
    multiAz: boolean;
    backupRetentionDays: number;
    deletionProtection: boolean;
    rotationDays: number;
    databaseName: string;
  };
  storage: { workExpirationDays: number; rawArchiveDays: number; resultsInfrequentAccessDays: number; retainOnDelete: boolean };
  batch: {
    taskSpot: boolean;
    spotBidPercentage: number;
    taskMaxVcpus: number;
    headMaxVcpus: number;
    taskInstanceTypes: string[];
    headInstanceTypes: string[];
    scratchVolumeGiB: number;
    headVcpus: number;
    headMemoryMiB: number;
  };
  api: {
    cpu: number;
    memoryMiB: number;
    minCount: number;
    maxCount: number;
    allowedCidrs: string[];
    domainName: string;
    certificateArn: string;
    migrationCommand: string[];
  };
  images: { registry: string; tag: string };
  logs: { retentionDays: number };
  alarms: { email?: string; stuckQueueMinutes: number };
  triggers: { fastqSuffixes: string[]; samplesheetName: string; profiles: string[]; reservedConcurrency: number };
}

/** Retention values CloudWatch Logs accepts (RetentionInDays). */
const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

type Obj = Record<string, unknown>;

class Reader {
  constructor(
    private readonly obj: Obj,
    private readonly prefix: string,
  ) {}

  static section(parent: Obj, key: string, prefix = ''): Reader {
    const full = prefix + key;
    const v = parent[key];
    if (v === undefined || v === null) throw new ConfigError(full, 'is required (a mapping)');
    if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(full, 'must be a mapping');
    return new Reader(v as Obj, `${full}.`);
  }

  sub(key: string): Reader {
    return Reader.section(this.obj, key, this.prefix);
  }

  private raw(key: string, required: boolean): unknown {
    const v = this.obj[key];
    if ((v === undefined || v === null) && required) throw new ConfigError(this.prefix + key, 'is required');
    return v ?? undefined;
  }

  string(key: string, pattern?: RegExp, hint?: string): string {
    const v = this.raw(key, true);
    if (typeof v !== 'string' || v.length === 0)
      throw new ConfigError(this.prefix + key, `must be a non-empty string (got ${JSON.stringify(v)})`);
    if (pattern && !pattern.test(v))
      throw new ConfigError(this.prefix + key, `must be ${hint ?? `like ${pattern}`} (got ${JSON.stringify(v)})`);
    return v;
  }

  optionalString(key: string, pattern?: RegExp, hint?: string): string | undefined {
    return this.raw(key, false) === undefined ? undefined : this.string(key, pattern, hint);
  }

  int(key: string, min: number, max: number): number {
    const v = this.raw(key, true);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new ConfigError(this.prefix + key, `must be an integer from ${min} to ${max} (got ${JSON.stringify(v)})`);
    }
    return v;
  }

  oneOf(key: string, allowed: readonly number[]): number {
    const v = this.raw(key, true);
    if (typeof v !== 'number' || !allowed.includes(v)) {
      throw new ConfigError(this.prefix + key, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`);
    }
    return v;
  }

  bool(key: string): boolean {
    const v = this.raw(key, true);
    if (typeof v !== 'boolean') throw new ConfigError(this.prefix + key, `must be true or false (got ${JSON.stringify(v)})`);
    return v;
  }

  strings(key: string, pattern?: RegExp, hint?: string, allowEmpty = false): string[] {
    const v = this.raw(key, true);
    if (!Array.isArray(v) || (v.length === 0 && !allowEmpty))
      throw new ConfigError(this.prefix + key, `must be a ${allowEmpty ? '' : 'non-empty '}list`);
    return v.map((item, i) => {
      if (typeof item !== 'string' || (pattern && !pattern.test(item))) {
        throw new ConfigError(`${this.prefix}${key}[${i}]`, `must be ${hint ?? 'a string'} (got ${JSON.stringify(item)})`);
      }
      return item;
    });
  }

  /** Rejects keys the schema does not know, so a typo is an error and not a silently ignored setting. */
  done(known: string[]): void {
    for (const k of Object.keys(this.obj)) {
      if (!known.includes(k)) throw new ConfigError(this.prefix + k, `is not a known setting (known: ${known.join(', ')})`);
    }
  }
}

/** Subnet sizes per tier (infra/src/stacks/network.ts lays the VPC out with these). */
export const SUBNET_MASKS = { public: 24, private: 20, isolated: 24 } as const;

/**
 * The largest request of one pipeline task on its first attempt (label process_cellranger in
 * workflows/conf/base.config; test/infra/config.test.ts checks the two agree).
 */
export const LARGEST_TASK = { vcpus: 8, memoryMiB: 64 * 1024 } as const;

/** Fargate's cpu -> memory (MiB) combinations. */
const FARGATE_MEMORY: Record<number, { min: number; max: number; step: number }> = {
  256: { min: 512, max: 2048, step: 512 },
  512: { min: 1024, max: 4096, step: 1024 },
  1024: { min: 2048, max: 8192, step: 1024 },
  2048: { min: 4096, max: 16384, step: 1024 },
  4096: { min: 8192, max: 30720, step: 1024 },
};

/** Addresses the subnet layout takes in `azs` AZs: each subnet aligned to its size, tiers in order, as CDK allocates. */
export function subnetSpace(azs: number): number {
  let offset = 0;
  for (const mask of Object.values(SUBNET_MASKS)) {
    const size = 2 ** (32 - mask);
    for (let i = 0; i < azs; i++) offset = Math.ceil(offset / size) * size + size;
  }
  return offset;
}

/** GiB of memory per vCPU of the general families (c = compute, m = general, r = memory). */
const GIB_PER_VCPU: Record<string, number> = { c: 2, m: 4, r: 8 };
/** ECS and the OS keep this much of an instance's memory; jobs get the rest. */
const INSTANCE_RESERVED_MIB = 512;

/** vCPUs and usable memory of an exact c/m/r instance type (e.g. m6i.large); null for families and other kinds. */
export function instanceCapacity(type: string): { vcpus: number; memoryMiB: number } | null {
  const m = /^([cmr])\d+[a-z-]*\.(medium|large|xlarge|(\d+)xlarge)$/.exec(type);
  if (!m) return null;
  const vcpus = m[2] === 'medium' ? 1 : m[2] === 'large' ? 2 : m[2] === 'xlarge' ? 4 : 4 * Number(m[3]);
  return { vcpus, memoryMiB: vcpus * GIB_PER_VCPU[m[1]!]! * 1024 - INSTANCE_RESERVED_MIB };
}

/** Rejects a list none of whose entries can hold `need`; families (no size) always can. */
function checkFits(key: string, types: string[], need: { vcpus: number; memoryMiB: number }, what: string): void {
  const fits = types.some((t) => {
    if (!t.includes('.')) return true;
    const c = instanceCapacity(t);
    return c === null || (c.vcpus >= need.vcpus && c.memoryMiB >= need.memoryMiB);
  });
  if (!fits)
    throw new ConfigError(
      key,
      `none of ${types.join(', ')} can run ${what} (${need.vcpus} vCPU, ${need.memoryMiB} MiB after ${INSTANCE_RESERVED_MIB} MiB for ECS): jobs would stay RUNNABLE`,
    );
}

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;

function cidr(key: string, value: string, maxPrefix = 32): string {
  const m = CIDR.exec(value);
  const octetsOk = m?.slice(1, 5).every((o) => Number(o) <= 255);
  if (!m || !octetsOk || Number(m[5]) > maxPrefix)
    throw new ConfigError(key, `must be an IPv4 CIDR with prefix <= /${maxPrefix} (got "${value}")`);
  return value;
}

export function validateConfig(input: unknown): PlatformConfig {
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw new ConfigError('(root)', 'must be a mapping');
  const root = new Reader(input as Obj, '');
  const topKeys = ['name', 'account', 'region', 'network', 'database', 'storage', 'batch', 'api', 'images', 'logs', 'alarms', 'triggers'];

  const net = root.sub('network');
  const network = {
    cidr: cidr('network.cidr', net.string('cidr'), 24),
    availabilityZones: net.strings('availabilityZones', /^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$/, 'an availability zone such as eu-west-1a'),
    natGateways: net.int('natGateways', 1, 3),
    flowLogRetentionDays: net.oneOf('flowLogRetentionDays', RETENTION_DAYS),
    s3PrefixListId: net.string(
      's3PrefixListId',
      /^pl-[0-9a-f]{8,17}$/,
      "the id (pl-...) of the region's com.amazonaws.<region>.s3 prefix list",
    ),
  };
  if (network.availabilityZones.length < 2 || network.availabilityZones.length > 3) {
    throw new ConfigError('network.availabilityZones', 'must list 2 or 3 availability zones');
  }
  if (network.natGateways > network.availabilityZones.length)
    throw new ConfigError('network.natGateways', 'must be <= the number of availability zones');
  const vpcSize = 2 ** (32 - Number(network.cidr.split('/')[1]));
  const needed = subnetSpace(network.availabilityZones.length);
  if (vpcSize < needed) {
    const prefix = 32 - Math.ceil(Math.log2(needed));
    throw new ConfigError(
      'network.cidr',
      `is too small: ${network.availabilityZones.length} AZs of public /${SUBNET_MASKS.public}, private /${SUBNET_MASKS.private} and isolated /${SUBNET_MASKS.isolated} subnets need /${prefix} or larger (got "${network.cidr}")`,
    );
  }
  net.done(['cidr', 'availabilityZones', 'natGateways', 'flowLogRetentionDays', 's3PrefixListId']);

  const db = root.sub('database');
  const database = {
    instanceType: db.string('instanceType', INSTANCE_TYPE, 'an instance type such as t4g.medium'),
    engineVersion: db.string('engineVersion', /^16\.\d{1,2}$/, 'a PostgreSQL 16 minor version such as 16.13'),
    allocatedStorageGiB: db.int('allocatedStorageGiB', 20, 65536),
    maxAllocatedStorageGiB: db.int('maxAllocatedStorageGiB', 20, 65536),
    multiAz: db.bool('multiAz'),
    backupRetentionDays: db.int('backupRetentionDays', 1, 35),
    deletionProtection: db.bool('deletionProtection'),
    rotationDays: db.int('rotationDays', 1, 365),
    databaseName: db.string('databaseName', /^[a-z][a-z0-9_]{0,62}$/, 'a lower-case PostgreSQL identifier'),
  };
  if (database.maxAllocatedStorageGiB < database.allocatedStorageGiB) {
    throw new ConfigError('database.maxAllocatedStorageGiB', 'must be >= database.allocatedStorageGiB');
  }
  db.done(Object.keys(database));

  const st = root.sub('storage');
  const storage = {
    workExpirationDays: st.int('workExpirationDays', 1, 3650),
    rawArchiveDays: st.int('rawArchiveDays', 1, 3650),
    resultsInfrequentAccessDays: st.int('resultsInfrequentAccessDays', 30, 3650),
    retainOnDelete: st.bool('retainOnDelete'),
  };
  st.done(Object.keys(storage));

  const b = root.sub('batch');
  const batch = {
    taskSpot: b.bool('taskSpot'),
    spotBidPercentage: b.int('spotBidPercentage', 1, 100),
    taskMaxVcpus: b.int('taskMaxVcpus', 1, 100000),
    headMaxVcpus: b.int('headMaxVcpus', 1, 1000),
    taskInstanceTypes: b.strings('taskInstanceTypes', /^[a-z][a-z0-9-]*(\.[a-z0-9]+)?$/, 'an instance type or family'),
    headInstanceTypes: b.strings('headInstanceTypes', /^[a-z][a-z0-9-]*(\.[a-z0-9]+)?$/, 'an instance type or family'),
    scratchVolumeGiB: b.int('scratchVolumeGiB', 30, 16384),
    headVcpus: b.int('headVcpus', 1, 64),
    headMemoryMiB: b.int('headMemoryMiB', 1024, 262144),
  };
  if (batch.headVcpus > batch.headMaxVcpus) throw new ConfigError('batch.headVcpus', 'must be <= batch.headMaxVcpus');
  checkFits('batch.headInstanceTypes', batch.headInstanceTypes, { vcpus: batch.headVcpus, memoryMiB: batch.headMemoryMiB }, 'the head job');
  checkFits('batch.taskInstanceTypes', batch.taskInstanceTypes, LARGEST_TASK, 'the largest pipeline task');
  if (batch.taskMaxVcpus < LARGEST_TASK.vcpus)
    throw new ConfigError('batch.taskMaxVcpus', `must be >= ${LARGEST_TASK.vcpus}, the largest pipeline task's vCPUs`);
  b.done(Object.keys(batch));

  const a = root.sub('api');
  const api = {
    cpu: a.oneOf('cpu', [256, 512, 1024, 2048, 4096]),
    memoryMiB: a.int('memoryMiB', 512, 30720),
    minCount: a.int('minCount', 1, 100),
    maxCount: a.int('maxCount', 1, 100),
    allowedCidrs: a.strings('allowedCidrs').map((c, i) => {
      const v = cidr(`api.allowedCidrs[${i}]`, c);
      if (Number(v.split('/')[1]) === 0)
        throw new ConfigError(`api.allowedCidrs[${i}]`, `must not be the whole internet (got "${v}"): list your campus or VPN ranges`);
      return v;
    }),
    // Both required: the API is served (and called by head nodes and the upload trigger) only over HTTPS under this name.
    domainName: a.string('domainName', /^([a-z0-9-]+\.)+[a-z]{2,}$/, 'a DNS name (the API is served only over HTTPS under it)'),
    certificateArn: a.string(
      'certificateArn',
      /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]+$/,
      'an ACM certificate ARN (the API is served only over HTTPS)',
    ),
    migrationCommand: a.strings('migrationCommand'),
  };
  if (api.maxCount < api.minCount) throw new ConfigError('api.maxCount', 'must be >= api.minCount');
  const fargate = FARGATE_MEMORY[api.cpu]!;
  if (api.memoryMiB < fargate.min || api.memoryMiB > fargate.max || (api.memoryMiB - fargate.min) % fargate.step !== 0) {
    throw new ConfigError(
      'api.memoryMiB',
      `Fargate offers ${fargate.min}-${fargate.max} MiB in steps of ${fargate.step} with api.cpu ${api.cpu} (got ${api.memoryMiB})`,
    );
  }
  a.done(Object.keys(api));

  const im = root.sub('images');
  const images = {
    registry: im.string(
      'registry',
      /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com$/,
      'an ECR registry host (<account>.dkr.ecr.<region>.amazonaws.com)',
    ),
    tag: im.string('tag', /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'a container image tag'),
  };
  im.done(Object.keys(images));

  const l = root.sub('logs');
  const logs = { retentionDays: l.oneOf('retentionDays', RETENTION_DAYS) };
  l.done(Object.keys(logs));

  const al = root.sub('alarms');
  const alarms = {
    email: al.optionalString('email', /^[^@\s]+@[^@\s]+$/, 'an e-mail address'),
    stuckQueueMinutes: al.int('stuckQueueMinutes', 10, 1440),
  };
  al.done(['email', 'stuckQueueMinutes']);

  const tr = root.sub('triggers');
  const triggers = {
    fastqSuffixes: tr.strings('fastqSuffixes', /^\.[A-Za-z0-9.]+$/, 'a file suffix starting with "."'),
    samplesheetName: tr.string('samplesheetName', /^[A-Za-z0-9_.-]+\.csv$/, 'a .csv file name'),
    profiles: tr.strings('profiles', /^[A-Za-z0-9_-]+$/, 'a Nextflow profile name', true),
    reservedConcurrency: tr.int('reservedConcurrency', 1, 1000),
  };
  tr.done(Object.keys(triggers));

  const config: PlatformConfig = {
    name: root.string('name', /^[a-z][a-z0-9-]{1,20}$/, 'lower-case letters, digits and dashes (2-21 chars)'),
    account: root.string('account', /^\d{12}$/, 'a 12-digit AWS account id'),
    region: root.string('region', /^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'an AWS region such as eu-west-1'),
    network,
    database,
    storage,
    batch,
    api,
    images,
    logs,
    alarms,
    triggers,
  };
  if (!images.registry.startsWith(`${config.account}.dkr.ecr.${config.region}.`)) {
    throw new ConfigError('images.registry', `must be the ECR registry of ${config.account} in ${config.region}`);
  }
  const [, , , certRegion, certAccount] = api.certificateArn.split(':');
  if (certRegion !== config.region || certAccount !== config.account) {
    throw new ConfigError(
      'api.certificateArn',
      `must be a certificate of account ${config.account} in ${config.region}, where the load balancers are (got ${certAccount} in ${certRegion})`,
    );
  }
  for (const [i, az] of network.availabilityZones.entries()) {
    if (!az.startsWith(config.region))
      throw new ConfigError(`network.availabilityZones[${i}]`, `must be in region ${config.region} (got "${az}")`);
  }
  root.done(topKeys);
  return config;
}

export function loadConfig(file: string): PlatformConfig {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError('(file)', `${file} is not readable YAML: ${(err as Error).message}`);
  }
  return validateConfig(doc);
}
