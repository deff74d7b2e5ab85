// infra/config.yaml validation: the example loads, and each kind of bad value fails naming its key.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import t from 'tap';
import { stringify } from 'yaml';
import { ConfigError, LARGEST_TASK, loadConfig, validateConfig } from '../../infra/src/config.js';
import { NetworkStack } from '../../infra/src/stacks/network.js';
import { run } from '../helpers/exec.js';
import { repoRoot } from '../helpers/paths.js';
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
  ['api.allowedCidrs', ['10.0.0.0/8', 'campus'], 'api.allowedCidrs[1]', /CIDR/],
  // Values that used to pass here and fail later, or deploy something broken:
  ['network.cidr', '10.40.0.0/19', 'network.cidr', /too small: 2 AZs .* need \/18 or larger/],
  ['network.cidr', '10.40.0.0/24', 'network.cidr', /too small/],
  ['network.s3PrefixListId', 'com.amazonaws.eu-west-1.s3', 'network.s3PrefixListId', /prefix list/],
  [
    'api.certificateArn',
    'arn:aws:acm:us-east-1:123456789012:certificate/0000',
    'api.certificateArn',
    /in eu-west-1, where the load balancers are \(got 123456789012 in us-east-1\)/,
  ],
  [
    'api.certificateArn',
    'arn:aws:acm:eu-west-1:999999999999:certificate/0000',
    'api.certificateArn',
    /account 123456789012 .*got 999999999999/,
  ],
  ['api.certificateArn', undefined, 'api.certificateArn', /is required/],
  ['api.domainName', undefined, 'api.domainName', /is required/],
  ['api.memoryMiB', 1536, 'api.memoryMiB', /Fargate offers 2048-8192 MiB in steps of 1024 with api.cpu 1024/],
  ['api.memoryMiB', 16384, 'api.memoryMiB', /Fargate offers/],
  ['batch.headInstanceTypes', ['c6i.large'], 'batch.headInstanceTypes', /none of c6i.large can run the head job \(2 vCPU, 7168 MiB/],
  ['batch.taskInstanceTypes', ['c6i.large', 'm6i.xlarge'], 'batch.taskInstanceTypes', /the largest pipeline task \(8 vCPU, 65536 MiB/],
  ['batch.taskMaxVcpus', 4, 'batch.taskMaxVcpus', /largest pipeline task/],
  ['api.allowedCidrs', ['192.0.2.0/24', '0.0.0.0/0'], 'api.allowedCidrs[1]', /whole internet/],
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

t.test("the validator's subnet arithmetic agrees with CDK's: the smallest accepted VPC builds, one size smaller does not", async (t) => {
  const doc = await exampleDocument();
  for (const azs of [2, 3]) {
    const zones = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'].slice(0, azs);
    const accepted = (prefix: number) => {
      try {
        return validateConfig(withValue(withValue(doc, 'network.availabilityZones', zones), 'network.cidr', `10.40.0.0/${prefix}`));
      } catch {
        return null;
      }
    };
    const smallest = [16, 17, 18, 19, 20].filter((p) => accepted(p)).at(-1)!;
    t.ok(smallest, `${azs} AZs: /${smallest} is the smallest accepted`);
    const build = (prefix: number) => {
      const config = { ...accepted(smallest)!, network: { ...accepted(smallest)!.network, cidr: `10.40.0.0/${prefix}` } };
      const app = new App();
      app.node.setContext(`availability-zones:account=${config.account}:region=${config.region}`, zones);
      new NetworkStack(app, 'n', config, { env: { account: config.account, region: config.region } });
    };
    t.doesNotThrow(() => build(smallest), `${azs} AZs: CDK lays out /${smallest}`);
    t.throws(() => build(smallest + 1), `${azs} AZs: CDK cannot lay out /${smallest + 1}`);
  }
});

t.test("LARGEST_TASK is the pipeline's largest first-attempt request (workflows/conf/base.config)", async (t) => {
  const text = await readFile(path.join(repoRoot, 'workflows/conf/base.config'), 'utf8');
  const requests = [...text.matchAll(/cpus = (\d+); memory = \{? ?(\d+)\.GB/g)].map((m) => ({
    vcpus: Number(m[1]),
    memoryMiB: Number(m[2]) * 1024,
  }));
  t.ok(requests.length >= 3, `${requests.length} labels read`);
  t.same(LARGEST_TASK, { vcpus: Math.max(...requests.map((r) => r.vcpus)), memoryMiB: Math.max(...requests.map((r) => r.memoryMiB)) });
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
