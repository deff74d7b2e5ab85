// infra/config.yaml validation: the example loads, and each kind of bad value fails naming its key.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { ConfigError, loadConfig, validateConfig } from '../../infra/src/config.js';
import { run } from '../helpers/exec.js';
import { exampleConfig, exampleDocument, infraDir } from './platform.js';

t.test('the example config is valid', async (t) => {
  const config = exampleConfig();
  t.equal(config.region, 'eu-west-1');
  t.same(config.network.availabilityZones, ['eu-west-1a', 'eu-west-1b']);
  t.equal(config.batch.taskSpot, true);
  t.equal(config.api.certificateArn?.startsWith('arn:aws:acm:'), true);
});

/** Sets doc[a][b]... = value (undefined deletes). */
function withValue(doc: Record<string, unknown>, keyPath: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(doc);
  const parts = keyPath.split('.');
  let node = copy as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) node = node[p] as Record<string, unknown>;
  const last = parts.at(-1)!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

const cases: [string, unknown, string, RegExp][] = [
  ['account', '12345', 'account', /12-digit/],
  ['region', 'Europe', 'region', /AWS region/],
  ['network.cidr', '10.0.0.0/33', 'network.cidr', /CIDR/],
  ['network.cidr', '300.0.0.0/16', 'network.cidr', /CIDR/],
  ['network.availabilityZones', ['us-east-1a', 'us-east-1b'], 'network.availabilityZones[0]', /region eu-west-1/],
  ['network.natGateways', 5, 'network.natGateways', /integer from 1 to 3/],
  ['database.multiAz', 'yes', 'database.multiAz', /true or false/],
  ['database.engineVersion', '15.4', 'database.engineVersion', /PostgreSQL 16/],
  ['database.maxAllocatedStorageGiB', 20, 'database.maxAllocatedStorageGiB', />= database.allocatedStorageGiB/],
  ['batch.taskMaxVcpus', -1, 'batch.taskMaxVcpus', /integer/],
  ['batch.headInstanceTypes', [], 'batch.headInstanceTypes', /non-empty list/],
  ['batch.taskInstanceTypes', ['c6i', 'Bad Type'], 'batch.taskInstanceTypes[1]', /instance type/],
  ['batch.scratchVolumeGiB', undefined, 'batch.scratchVolumeGiB', /is required/],
  ['batch.spotBidPercent', 50, 'batch.spotBidPercent', /not a known setting/],
  ['api.cpu', 300, 'api.cpu', /one of 256, 512/],
  ['api.certificateArn', 'arn:aws:iam::123456789012:role/x', 'api.certificateArn', /ACM certificate ARN/],
  ['api.allowedCidrs', ['0.0.0.0/0', 'campus'], 'api.allowedCidrs[1]', /CIDR/],
  ['images.registry', 'docker.io', 'images.registry', /ECR registry/],
  ['images.registry', '999999999999.dkr.ecr.eu-west-1.amazonaws.com', 'images.registry', /ECR registry of 123456789012/],
  ['logs.retentionDays', 100, 'logs.retentionDays', /one of 1, 3, 5/],
  ['alarms.email', 'nobody', 'alarms.email', /e-mail/],
  ['triggers.fastqSuffixes', ['fastq.gz'], 'triggers.fastqSuffixes[0]', /suffix starting with/],
  ['storage', undefined, 'storage', /is required/],
];

t.test('bad values fail with the key named', async (t) => {
  const doc = await exampleDocument();
  for (const [keyPath, value, key, message] of cases) {
    const label = `${keyPath} = ${JSON.stringify(value)}`;
    try {
      validateConfig(withValue(doc, keyPath, value));
      t.fail(`${label} was accepted`);
    } catch (err) {
      t.type(err, ConfigError, label);
      t.equal((err as ConfigError).key, key, `${label} names ${key}`);
      t.match((err as Error).message, message, label);
    }
  }
});

t.test('a file that is not YAML fails clearly', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'scrna-config-'));
  const file = path.join(dir, 'bad.yaml');
  writeFileSync(file, 'name: [unclosed\n');
  t.throws(() => loadConfig(file), /config: \(file\): .*not readable YAML/);
});

t.test('`cdk synth` with a bad config stops before synthesis and names the key', async (t) => {
  const doc = await exampleDocument();
  const dir = mkdtempSync(path.join(tmpdir(), 'scrna-config-'));
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, stringify(withValue(doc, 'batch.headMaxVcpus', 'sixteen')));
  const res = await run('npx', ['cdk', 'synth', '--no-notices', '-q', '-o', path.join(dir, 'out'), '-c', `scrna:config=${file}`], {
    cwd: infraDir,
    env: { CDK_DISABLE_CLI_TELEMETRY: 'true' },
  });
  t.not(res.code, 0);
  t.match(res.stderr, /config: batch\.headMaxVcpus: must be an integer from 1 to 1000 \(got "sixteen"\)/);
});
